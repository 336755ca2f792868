"""Pruning, then quantization-aware training, of a small CNN in a Lightning Trainer (CPU, under a minute).

    python examples/lightning_cnn.py

The data is synthetic and the network tiny; put your own LightningModule and data in their place.
The only recipekit line is ``callbacks=[RecipeCallback(...)]``: it compiles examples/cnn_prune_qat.yaml
for the Trainer's steps per epoch, sets ``max_epochs`` to the recipe's, runs each step's instructions
after backward, and finalizes at the end of ``fit`` (docs/integrations.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch

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


def data() -> torch.utils.data.DataLoader[Any]:
    generator = torch.Generator().manual_seed(0)
    images = torch.randn(128, 3, 16, 16, generator=generator)
    labels = (images[:, 0].mean((1, 2)) > 0).long() + 2 * (images[:, 1].mean((1, 2)) > 0).long()
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(images, labels), batch_size=16, shuffle=True, generator=generator)


def main() -> None:
    torch.manual_seed(0)
    module = Classifier()
    recipe = RecipeCallback(RECIPE)
    trainer = pl.Trainer(
        max_epochs=5,  # the recipe's num_epochs
        accelerator="cpu",
        callbacks=[recipe],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(module, data())

    runner = recipe.runner
    assert runner is not None
    named = dict(module.named_parameters())
    print(f"optimizer steps: {trainer.global_step}")
    for name in runner.masks():
        print(f"{name}: sparsity {float((named[name] == 0).float().mean()):.2f}")
    print(f"QAT: enabled {runner.qat_enabled}, observers {'on' if runner.qat_observing else 'off'}, BatchNorm frozen {runner.bn_frozen}")
    print(f"fake-quantized modules: {len(runner.quantization_params())}")


if __name__ == "__main__":
    main()
