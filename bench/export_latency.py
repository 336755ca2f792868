"""onnxruntime CPU latency of exported models: int8 QDQ export against the fp32 export of the same model.

Two tiny models, each pruned and QAT-trained for a few steps by a recipe through
``recipekit.runtime.attach``, then exported twice:

- int8: ``to_onnx(model, x, path, runner=runner)`` (QDQ, BatchNorm folded, int8 weights);
- fp32: the same trained weights with the QAT simulation removed (``runner.detach()``), exported
  with ``to_onnx(model, x, path)`` (torch's exporter folds the eval BatchNorm itself).

Both run in one process in onnxruntime (CPU provider, default graph optimisation, 1 thread),
interleaved: every round runs each session once on the same input, in alternating order, so
machine drift hits both alike. Printed: median latency of each and the ratio fp32 / int8 (above 1:
int8 is faster). Models: a CNN (Conv 3->64, Conv 64->128, Conv 128->128, each +BN+ReLU, a
Linear head; batch 8 of 3x32x32) and a BERT-like encoder (Embedding 1000x128, LayerNorm, two
feed-forward blocks 128->512->128, a head; batch 8 of 64 tokens).

Run: .venv/bin/python bench/export_latency.py [--rounds 300]   (needs the torch and onnx extras)
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import torch
from torch import nn

import recipekit
from recipekit.export import to_onnx
from recipekit.runtime import attach

RECIPE = """
modifiers:
  - !EpochRangeModifier
    start_epoch: 0.0
    end_epoch: 3.0
  - !GMPruningModifier
    params: __ALL_PRUNABLE__
    init_sparsity: 0.05
    final_sparsity: 0.7
    start_epoch: 0.0
    end_epoch: 1.0
    update_frequency: 0.5
  - !QuantizationModifier
    start_epoch: 1.0
    freeze_bn_stats_epoch: 2.0
"""


def block(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU()]


class Cnn(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(*block(3, 64), *block(64, 128), *block(128, 128))
        self.classifier = nn.Linear(128, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.classifier(self.features(x).mean(dim=(2, 3)))
        return out


class TinyBert(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embeddings = nn.Embedding(1000, 128)
        self.norm = nn.LayerNorm(128)
        self.ff1 = nn.Sequential(nn.Linear(128, 512), nn.GELU(), nn.Linear(512, 128))
        self.norm1 = nn.LayerNorm(128)
        self.ff2 = nn.Sequential(nn.Linear(128, 512), nn.GELU(), nn.Linear(512, 128))
        self.norm2 = nn.LayerNorm(128)
        self.head = nn.Linear(128, 4)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        hidden = self.norm(self.embeddings(ids))
        hidden = self.norm1(hidden + self.ff1(hidden))
        hidden = self.norm2(hidden + self.ff2(hidden))
        out: torch.Tensor = self.head(hidden.mean(dim=1))
        return out


def trained(model: nn.Module, batch: Callable[[int], torch.Tensor]) -> Any:
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    plan = recipekit.compile_recipe(RECIPE, 4)
    runner = attach(plan, model, optimizer)
    for step in range(plan.total_steps):
        optimizer.zero_grad()
        model(batch(step)).pow(2).mean().backward()
        optimizer.step()
    runner.finalize()
    return runner


def session(path: Path) -> Any:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def measure(name: str, model: nn.Module, batch: Callable[[int], torch.Tensor], rounds: int, folder: Path) -> float:
    torch.manual_seed(0)
    runner = trained(model, batch)
    x = batch(1000)
    int8 = to_onnx(model, x, folder / f"{name}-int8.onnx", runner=runner, print_report=False)
    runner.detach()  # the same weights, no fake quantization: the fp32 model
    fp32 = to_onnx(model, x, folder / f"{name}-fp32.onnx", print_report=False)
    sessions = {"int8": session(int8.path), "fp32": session(fp32.path)}
    feed = x.numpy()
    times: dict[str, list[float]] = {"int8": [], "fp32": []}
    order = ["int8", "fp32"]
    for warm in range(10):
        for key in order:
            sessions[key].run(None, {sessions[key].get_inputs()[0].name: feed})
        del warm
    for _ in range(rounds):
        order.reverse()
        for key in order:
            sess = sessions[key]
            start = time.perf_counter()
            sess.run(None, {sess.get_inputs()[0].name: feed})
            times[key].append(time.perf_counter() - start)
    medians = {key: statistics.median(values) * 1e3 for key, values in times.items()}
    ratio = medians["fp32"] / medians["int8"]
    kernels = ", ".join(f"{op} x{n}" for op, n in sorted((int8.fused_kernels or {}).items())) or "none"
    print(
        f"{name:<10} int8 {medians['int8']:8.3f} ms  fp32 {medians['fp32']:8.3f} ms  fp32/int8 {ratio:5.2f}  "
        f"files {int8.file_size / 1024:7.1f} / {fp32.file_size / 1024:7.1f} KiB  int8 kernels: {kernels}"
    )
    return ratio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=300)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, onnxruntime {ort.__version__}, numpy {np.__version__}, {args.rounds} interleaved rounds, 1 thread")
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        measure("cnn", Cnn(), lambda s: torch.randn(8, 3, 32, 32, generator=torch.Generator().manual_seed(s)), args.rounds, folder)
        tokens: Callable[[int], torch.Tensor] = lambda s: torch.randint(0, 1000, (8, 64), generator=torch.Generator().manual_seed(s))  # noqa: E731
        measure("bert-like", TinyBert(), tokens, args.rounds, folder)


if __name__ == "__main__":
    main()
