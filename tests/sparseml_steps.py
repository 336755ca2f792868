"""Replay a fixture written by scripts/sparseml_fixtures/steps.py through recipekit, and compare.

The AC/DC, LayerPruning and M-FAC tests share this: the fixture holds a recipe, the
initial weights, fixed batches (and gradient-sample batches) and SparseML 1.8.0's state
after every wrapped step. ``replay`` compiles the recipe, attaches to the same model and
optimizer and runs the same loop; ``assert_same`` compares with ``torch.equal``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

import recipekit
from recipekit.runtime import GradSampler, PlanRunner, attach
from scripts.sparseml_fixtures.steps import models  # the very models the fixtures were made with
from tests import fixture_compare

FIXTURES = fixture_compare.FIXTURES  # the fixtures root (RECIPEKIT_FIXTURES overrides it)


def load(topic: str, case: str) -> dict[str, Any]:
    return fixture_compare.topic(topic).load(f"{case}.pt")  # type: ignore[no-any-return]


def cases(topic: str) -> list[str]:
    return fixture_compare.topic(topic).cases()


class Run:
    """One replay: the model, optimizer and runner, and a snapshot per step in the fixture's format."""

    def __init__(self, fixture: dict[str, Any]) -> None:
        self.fixture = fixture
        self.model = models(fixture["kind"])
        self.model.load_state_dict(fixture["init"])
        self.names = {id(p): n for n, p in self.model.named_parameters()}
        params = self.model.parameters()
        if fixture["optimizer"] == "sgd":
            self.optimizer: torch.optim.Optimizer = torch.optim.SGD(params, lr=0.1, momentum=0.9)
        else:
            self.optimizer = torch.optim.Adam(params, lr=0.01)
        self.loss_fn = torch.nn.CrossEntropyLoss()
        self.plan = recipekit.compile_recipe(fixture["recipe"], fixture["spe"])

    def attach(self, **kwargs: Any) -> PlanRunner:
        samples = self.fixture["sampler"]
        if samples and "grad_sampler" not in kwargs:
            kwargs["grad_sampler"] = GradSampler(lambda _kwargs: lambda: iter([([x], {}, y) for x, y in samples]), self.loss_fn)
        return attach(self.plan, self.model, self.optimizer, **kwargs)

    def step(self, runner: PlanRunner, k: int) -> dict[str, Any]:
        x, y = self.fixture["batches"][k]
        self.optimizer.zero_grad()
        loss = self.loss_fn(self.model(x), y)
        loss.backward()  # type: ignore[no-untyped-call]
        self.optimizer.step()
        snap = self.snapshot()
        snap["masks"] = {n: m.float() for n, m in runner.masks().items()}
        snap["loss"] = loss.detach()
        return snap

    def snapshot(self) -> dict[str, Any]:
        present = {id(p) for p in self.model.parameters()}
        state = {
            f"{self.names[id(param)]}/{key}": value.detach().clone()
            for param, values in self.optimizer.state.items()
            for key, value in values.items()
            if isinstance(value, torch.Tensor) and value.dim() > 0
        }
        return {
            "params": {n: p.detach().clone() for n, p in self.model.named_parameters()},
            "removed_params": {
                self.names[id(p)]: p.detach().clone() for g in self.optimizer.param_groups for p in g["params"] if id(p) not in present
            },
            "optimizer_state": state,
            "modules": {n: type(m).__name__ for n, m in self.model.named_modules()},
            "state_dict_keys": list(self.model.state_dict().keys()),
        }


def replay(fixture: dict[str, Any], **kwargs: Any) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]]:
    run = Run(fixture)
    runner = run.attach(**kwargs)
    attached = run.snapshot()
    ours = [run.step(runner, k) for k in range(len(fixture["batches"]))]
    runner.finalize()
    return attached, ours, run.snapshot()


def assert_same(topic: str, mine: dict[str, Any], theirs: dict[str, Any], where: object) -> None:
    """Everything SparseML recorded at one point (a step, attach, finalize) of a case of ``topic``."""
    if not isinstance(topic, str):  # the old signature, (mine, theirs, where)
        raise TypeError("assert_same(topic, mine, theirs, where): name the fixture topic first (tests/fixture_compare.py)")
    fix = fixture_compare.topic(topic)
    fix.exact(mine["modules"], theirs["modules"], (where, "modules"))
    fix.exact(mine["state_dict_keys"], theirs["state_dict_keys"], (where, "state_dict_keys"))
    for part in ("params", "removed_params", "optimizer_state"):
        fix.exact(sorted(mine[part]), sorted(theirs[part]), (where, part))
        for name, value in theirs[part].items():
            fix.floats(mine[part][name], value, (where, part, name))
    if "loss" in theirs:
        fix.floats(mine["loss"], theirs["loss"], (where, "loss"))
    if "masks" in theirs:
        for name, mask in theirs["masks"].items():
            # SparseML holds all-ones masks from initialize; ours exist from the first update.
            fix.exact(mine["masks"].get(name, torch.ones_like(mask)), mask, (where, "mask", name))


def replay_recorded_gradients(
    training: dict[str, Any], run: dict[str, Any], exact_optimizer_state: bool
) -> tuple[nn.Module, torch.optim.Optimizer, PlanRunner, list[Any]]:
    """Replay one run of a fixture that recorded SparseML's gradients (the conformance and overlap topics).

    The model is the topics' ``Linear(8, 8), ReLU, Linear(8, 4)`` with the fixture's initial weights,
    trained with SGD + momentum on the recorded gradients. Returns the model, optimizer, runner and,
    per step, (masks, weights, momentum buffers).
    """
    model = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 4))
    model.load_state_dict(training["initial"])
    optimizer = torch.optim.SGD(model.parameters(), lr=training["lr"], momentum=training["momentum"])
    plan = recipekit.compile_recipe(run["recipe"], training["steps_per_epoch"])
    runner = attach(plan, model, optimizer, exact_optimizer_state=exact_optimizer_state)
    params = dict(model.named_parameters())
    history = []
    for k in range(run["steps"]["weights"]["0.bias"].shape[0]):
        optimizer.zero_grad(set_to_none=True)
        sum((params[n] * run["grads"][n][k]).sum() for n in params).backward()
        optimizer.step()
        history.append(
            (
                runner.masks(),
                {n: p.detach().clone() for n, p in params.items()},
                {n: optimizer.state[p]["momentum_buffer"].clone() for n, p in params.items()},
            )
        )
    runner.finalize()
    return model, optimizer, runner, history
