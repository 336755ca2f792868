"""SparseML 1.8's LayerPruningModifier: modules swapped for an argument-insensitive Identity, and back (reference §7).

A ``replace_modules`` instruction names modules (exact names, ``__ALL__`` or
``__ALL_PRUNABLE__``). They are swapped at ``step`` (0: at attach, before the first
forward, as SparseML did at initialize when start_epoch <= 0 or -1; otherwise in
step k's pre-step hook, after that step's forward and backward, so that step's
optimizer update still moves the removed weights) and the original module objects,
weights and all, are put back at ``restore_step`` (never when None: finalize leaves
the Identity in place, as SparseML's did).
"""

from __future__ import annotations

from typing import Any

import torch

#: Module types SparseML's ``__ALL_PRUNABLE__`` matched for layers (``get_prunable_layers``).
PRUNABLE = (torch.nn.Linear, torch.nn.Embedding, torch.nn.modules.conv._ConvNd)


class Identity(torch.nn.Module):
    """SparseML's ``sparseml.pytorch.nn.Identity``: one positional argument back as is, several as a tuple; keywords ignored."""

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return args[0] if len(args) == 1 else args


def resolve(model: torch.nn.Module, patterns: list[str]) -> tuple[list[str], list[str]]:
    """The module names a ``layers`` list selects, in the model's order, and the names it does not find.

    ``__ALL__`` is refused by the caller: SparseML's selected the model itself ("") and crashed.
    """
    modules = dict(model.named_modules())
    if "__ALL_PRUNABLE__" in patterns:
        return [name for name, module in modules.items() if name and isinstance(module, PRUNABLE)], []
    found, missing = [], []
    for name in patterns:
        if name in modules and name:
            found.append(name)
        elif "module." + name in modules:
            found.append("module." + name)  # written for the bare model, attached to a DDP wrapper
        else:
            missing.append(name)
    return found, missing


def _parent(model: torch.nn.Module, name: str) -> tuple[torch.nn.Module, str]:
    parent_name, _, child = name.rpartition(".")
    return (model.get_submodule(parent_name) if parent_name else model), child


def swap(model: torch.nn.Module, name: str, replacement: torch.nn.Module) -> torch.nn.Module:
    """Put ``replacement`` at ``name`` (``setattr`` on the parent, as SparseML's ``swap_modules``); return what was there."""
    parent, child = _parent(model, name)
    current = getattr(parent, child)
    setattr(parent, child, replacement)
    return current  # type: ignore[no-any-return]


class Removed:
    """The modules one ``replace_modules`` instruction holds out of the model, by name."""

    def __init__(self, names: list[str]) -> None:
        self.names = names
        self.held: dict[str, torch.nn.Module] = {}

    @property
    def replaced(self) -> bool:
        return bool(self.held)

    def remove(self, model: torch.nn.Module) -> None:
        if not self.held:
            for name in self.names:
                self.held[name] = swap(model, name, Identity())

    def restore(self, model: torch.nn.Module) -> None:
        for name, module in self.held.items():
            swap(model, name, module)
        self.held = {}
