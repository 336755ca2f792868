"""Train a tiny CNN on synthetic data with a compiled recipekit plan (CPU, well under a minute).

    recipekit compile examples/recipe.yaml --steps-per-epoch 8 -o build/plan.json
    python examples/train_tiny.py build/plan.json

The training loop is an ordinary PyTorch loop: `attach` is the only recipekit line,
and `finalize` leaves a model whose pruned weights are exactly zero.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from torch import nn

import recipekit
from recipekit.runtime import attach

BATCH = 32
BATCHES_PER_EPOCH = 8


class TinyCNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 16, 3, padding=1), nn.ReLU())
        self.classifier = nn.Linear(16, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).mean(dim=(2, 3)))


def synthetic_data(generator: torch.Generator) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Images whose label is the colour channel with the brightest centre, plus noise."""
    batches = []
    for _ in range(BATCHES_PER_EPOCH):
        images = torch.randn(BATCH, 3, 8, 8, generator=generator)
        labels = images[:, :, 3:5, 3:5].mean(dim=(2, 3)).argmax(dim=1)
        batches.append((images, labels))
    return batches


def main() -> None:
    plan_path = Path(sys.argv[1]) if len(sys.argv) > 1 else None
    plan = (
        recipekit.load_plan(plan_path)
        if plan_path
        else recipekit.compile_recipe(Path(__file__).with_name("recipe.yaml"), BATCHES_PER_EPOCH)
    )
    if plan.steps_per_epoch != BATCHES_PER_EPOCH:
        raise SystemExit(f"compile the plan with --steps-per-epoch {BATCHES_PER_EPOCH} (this loop's batches per epoch)")
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    data = synthetic_data(generator)
    model = TinyCNN()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    runner = attach(plan, model, optimizer)
    loss_fn = nn.CrossEntropyLoss()
    while not runner.done:
        epoch = int(runner.epoch)
        total = 0.0
        for images, labels in data:
            loss = loss_fn(model(images), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item()
        if epoch % 10 == 0 or runner.done:
            conv = model.features[2].weight
            sparsity = float((conv == 0).sum()) / conv.numel()
            print(f"epoch {epoch:3d}  loss {total / len(data):.3f}  lr {optimizer.param_groups[0]['lr']:.5f}  sparsity {sparsity:.3f}")
    runner.finalize()
    for name, param in model.named_parameters():
        if name.startswith("features") and name.endswith("weight"):
            print(f"{name}: {float((param == 0).sum()) / param.numel():.3f} sparse")


if __name__ == "__main__":
    main()
