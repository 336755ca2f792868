"""Tiny models, data and a step probe shared by the trainer integration tests (no downloads)."""

from __future__ import annotations

from typing import Any

import torch

from recipekit.runtime.runner import PlanRunner


class StepProbe:
    """Records, after every real optimizer update, what the step used and left: the issue's comparison."""

    def __init__(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer, runner: PlanRunner | None, names: list[str]) -> None:
        self.rows: list[tuple[Any, ...]] = []
        self.model, self.runner, self.names = model, runner, names
        optimizer.register_step_post_hook(self._after)

    def _after(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        named = dict(self.model.named_parameters())
        zeros = tuple(int((named[name] == 0).sum()) for name in self.names)
        runner = self.runner
        qat = (runner.qat_enabled, runner.qat_observing) if runner is not None else None
        groups = optimizer.param_groups
        self.rows.append((tuple(g["lr"] for g in groups), tuple(g["weight_decay"] for g in groups), zeros, qat))


class TokenData(torch.utils.data.Dataset[dict[str, torch.Tensor]]):
    """Random token sequences with binary labels, in the dict layout a Hugging Face model takes."""

    def __init__(self, count: int = 10, length: int = 12, vocab: int = 100) -> None:
        generator = torch.Generator().manual_seed(0)
        self.ids = torch.randint(0, vocab, (count, length), generator=generator)
        self.labels = torch.randint(0, 2, (count,), generator=generator)

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {"input_ids": self.ids[index], "attention_mask": torch.ones_like(self.ids[index]), "labels": self.labels[index]}
