"""`recipekit params`: write a parameter manifest from a model or a checkpoint.

The only part of linting that imports torch, so CI can lint against a
committed manifest without installing torch.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from typing import Any


class ModelLoadError(ValueError):
    pass


def from_model(spec: str) -> list[dict[str, Any]]:
    """``package.module:factory`` → call the factory → its named parameters."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise ModelLoadError(f"expected package.module:factory, got {spec!r}")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # like `python -m`: the project's own modules are importable
    try:
        factory = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as error:
        raise ModelLoadError(f"cannot load {spec}: {error}") from None
    model = factory()
    modules = dict(model.named_modules())
    manifest = []
    for name, parameter in model.named_parameters():
        owner = modules.get(name.rpartition(".")[0])
        manifest.append({"name": name, "shape": list(parameter.shape), "module_type": type(owner).__name__ if owner is not None else None})
    return manifest


def from_checkpoint(path: Path) -> list[dict[str, Any]]:
    """A state dict (or a dict holding one under "state_dict"/"model"), loaded with weights_only=True."""
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - torch raises many types for a bad file
        raise ModelLoadError(f"cannot load checkpoint {path}: {error}") from None
    for key in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict):
        raise ModelLoadError(f"{path} holds no state dict")
    # A state dict names tensors, not modules: module types are unknown (null).
    return [{"name": name, "shape": list(tensor.shape), "module_type": None} for name, tensor in state.items() if hasattr(tensor, "shape")]
