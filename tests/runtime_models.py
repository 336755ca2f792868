"""Build a torch model that has exactly the parameters of a manifest (golden `params`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn


class Leaf(nn.Module):
    """A module of an unknown class: just its parameters."""


def build_model(params: list[dict[str, Any]], without_params: Sequence[dict[str, Any]] = ()) -> nn.Module:
    """The manifest's modules in its order, then the parameterless ones (activations) under their class names."""
    modules: dict[str, dict[str, Any]] = {}
    for param in params:
        path, _, leaf = param["name"].rpartition(".")
        entry = modules.setdefault(path, {"type": param.get("module_type"), "leaves": {}})
        entry["leaves"][leaf] = param["shape"]
    root = nn.Module()
    for path, entry in modules.items():
        module = _make(entry["type"], entry["leaves"])
        parent = root
        parts = path.split(".") if path else []
        for part in parts[:-1]:
            if not hasattr(parent, part):
                parent.add_module(part, nn.Module())
            parent = getattr(parent, part)
        if parts:
            parent.add_module(parts[-1], module)
        else:
            for leaf, shape in entry["leaves"].items():
                root.register_parameter(leaf, nn.Parameter(torch.randn(shape) * 0.1))
    for entry in without_params:
        path, _, leaf = entry["name"].rpartition(".")
        parent = root.get_submodule(path) if path else root
        parent.add_module(leaf, _named_class(entry["module_type"])())
    return root


_CLASSES: dict[str, type[nn.Module]] = {}


def _named_class(name: str) -> type[nn.Module]:
    """A parameterless module class called ``name`` (QAT matches ignore/override entries by class name)."""
    return _CLASSES.setdefault(name, type(name, (nn.Identity,), {}))


def _make(module_type: str | None, leaves: dict[str, list[int]]) -> nn.Module:
    weight = leaves.get("weight")
    bias = "bias" in leaves
    if module_type == "Linear" and weight and len(weight) == 2 and set(leaves) <= {"weight", "bias"}:
        return nn.Linear(weight[1], weight[0], bias=bias)
    if module_type == "Conv2d" and weight and len(weight) == 4 and set(leaves) <= {"weight", "bias"}:
        return nn.Conv2d(weight[1], weight[0], tuple(weight[2:]), bias=bias)
    if module_type == "BatchNorm2d" and weight and len(weight) == 1 and set(leaves) == {"weight", "bias"}:
        return nn.BatchNorm2d(weight[0])
    if module_type == "Embedding" and weight and len(weight) == 2 and set(leaves) == {"weight"}:
        return nn.Embedding(weight[0], weight[1])
    module = Leaf()
    for leaf, shape in leaves.items():
        module.register_parameter(leaf, nn.Parameter(torch.randn(shape) * 0.1))
    return module


class Net(nn.Module):
    """A small CNN: two convolutions (the example recipe prunes them) and a classifier."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Conv2d(8, 8, 3))
        self.classifier = nn.Linear(8, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).mean(dim=(2, 3)))


Train = Callable[[nn.Module, torch.optim.Optimizer, range], None]


def resume_in_pieces(
    plan: Any, make_model: Callable[[], nn.Module], initial: dict[str, torch.Tensor], stops: Sequence[int], train: Train, tmp_path: Path
) -> tuple[nn.Module, Any]:
    """Train from ``initial`` up to each stop, then checkpoint model, optimizer and runner and go on
    with fresh objects restored from the checkpoint, as an interrupted job would."""
    from recipekit.runtime import attach

    def fresh(state: dict[str, Any] | None) -> tuple[nn.Module, torch.optim.Optimizer, Any]:
        model = make_model()
        model.load_state_dict(initial if state is None else state["model"])
        optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        if state is not None:
            optimizer.load_state_dict(state["optimizer"])
        runner = attach(plan, model, optimizer)
        if state is not None:
            runner.load_state_dict(state["runner"])
        return model, optimizer, runner

    model, optimizer, runner = fresh(None)
    done = 0
    for stop in stops:
        train(model, optimizer, range(done, stop))
        done = stop
        torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "runner": runner.state_dict()}, tmp_path / "c.pt")
        runner.detach()
        model, optimizer, runner = fresh(torch.load(tmp_path / "c.pt", weights_only=True))
    return model, runner
