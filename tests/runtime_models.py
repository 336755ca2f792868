"""Build a torch model that has exactly the parameters of a manifest (golden `params`)."""

from __future__ import annotations

from collections.abc import Sequence
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
