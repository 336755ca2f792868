"""From a Lightning Trainer to an int8 model served by onnxruntime: prune, QAT, export, check (CPU, under a minute).

    python examples/lightning_qat_onnx.py

A small CNN inside a LightningModule learns synthetic images with ``callbacks=[RecipeCallback(...)]``
(examples/cnn_prune_qat.yaml: pruning, then QAT with the BatchNorms folded). The bare network
(``module.model``) goes to ONNX with the callback's runner, whose names carry the LightningModule's
``model.`` prefix; onnxruntime classifies held-out images of another batch size, and the script
prints the accuracy of torch and of onnxruntime, how often they agree, and the latency of the int8
file against an fp32 export of the same architecture.
"""

from __future__ import annotations

import copy
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import onnxruntime as ort
import torch

from recipekit.export import to_onnx
from recipekit.integrations.lightning import RecipeCallback

RECIPE = Path(__file__).resolve().parent / "cnn_prune_qat.yaml"


class SmallCNN(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        conv, bn, relu = torch.nn.Conv2d, torch.nn.BatchNorm2d, torch.nn.ReLU
        self.features = torch.nn.Sequential(conv(3, 16, 3, padding=1), bn(16), relu(), conv(16, 16, 3, padding=1), bn(16), relu())
        self.classifier = torch.nn.Linear(16, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).mean((2, 3)))


class Classifier(pl.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.model = SmallCNN()  # its parameters are "model.features.0.weight", ...

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def training_step(self, batch: Any, index: int) -> torch.Tensor:
        images, labels = batch
        return torch.nn.functional.cross_entropy(self(images), labels)

    def configure_optimizers(self) -> Any:
        return torch.optim.SGD(self.parameters(), lr=0.05, momentum=0.9)


def images(count: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Noise whose first two channels are brightened or darkened by the label's two bits: four classes."""
    generator = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 4, (count,), generator=generator)
    x = torch.randn(count, 3, 16, 16, generator=generator)
    x[:, 0] += 0.5 * (2 * (labels % 2) - 1).float()[:, None, None]
    x[:, 1] += 0.5 * (2 * (labels // 2) - 1).float()[:, None, None]
    return x, labels


def latency(path: Path, feeds: dict[str, np.ndarray], runs: int = 30) -> float:
    """Median seconds of one onnxruntime run (one thread, all graph optimisations, as a server would run it)."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    session.run(None, feeds)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        session.run(None, feeds)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main(output_dir: Path) -> None:
    torch.manual_seed(0)
    module = Classifier()
    untrained = copy.deepcopy(module.model)  # the fp32 baseline for latency: same architecture, no quantization
    x, y = images(256, seed=0)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=32, shuffle=True)
    callback = RecipeCallback(RECIPE)
    trainer = pl.Trainer(
        max_epochs=5,  # the recipe's num_epochs
        accelerator="cpu",
        callbacks=[callback],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(module, loader)

    example = images(32, seed=2)[0]  # a batch like the real inputs: the check compares the outputs on it
    int8 = to_onnx(module.model, example, output_dir / "cnn-int8.onnx", runner=callback.runner, print_report=False)
    fp32 = to_onnx(untrained, example, output_dir / "cnn-fp32.onnx", print_report=False)

    held_out, labels = images(200, seed=1)  # another batch size than the example's: the batch axis is dynamic
    feeds = {"x": held_out.numpy()}
    served = ort.InferenceSession(str(int8.path), providers=["CPUExecutionProvider"]).run(None, feeds)[0].argmax(-1)
    module.eval()
    with torch.no_grad():
        trained = module.model(held_out).argmax(-1).numpy()
    ratio = latency(int8.path, feeds) / latency(fp32.path, feeds)
    print(f"int8 kernels: {', '.join(sorted(int8.fused_kernels or {}))}")
    print(f"accuracy: torch {float((trained == labels.numpy()).mean()):.3f}, onnxruntime {float((served == labels.numpy()).mean()):.3f}")
    print(f"predictions agree: {float((served == trained).mean()):.3f}")
    print(f"latency int8/fp32: {ratio:.2f}")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(Path(sys.argv[1]))
    else:
        with tempfile.TemporaryDirectory() as directory:
            main(Path(directory))
