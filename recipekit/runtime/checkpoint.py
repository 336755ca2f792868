"""A parameter manifest from a checkpoint file (`recipekit params --checkpoint`), read with torch.

Checkpoints are untrusted: loaded with ``weights_only=True``, never unpickled into objects.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from recipekit.plan.manifest import ManifestError


#: Buffers a state dict holds beside the parameters (BatchNorm's); no recipe prunes or quantizes them.
BUFFER_NAMES = frozenset({"running_mean", "running_var", "num_batches_tracked"})


def manifest_from_checkpoint(path: Path, buffers: bool = False) -> list[dict[str, Any]]:
    """A state dict (or a dict holding one under "state_dict"/"model"); module types are unknown (null).

    A state dict does not say which tensors are parameters: BatchNorm's buffers (:data:`BUFFER_NAMES`)
    and integer tensors (parameters are floating point) are left out unless ``buffers``.
    """
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - torch raises many types for a bad file
        raise ManifestError(f"cannot load checkpoint {path}: {error}") from None
    for key in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict):
        raise ManifestError(f"{path} holds no state dict")
    # A state dict names tensors, not modules.
    return [
        {"name": name, "shape": list(tensor.shape), "module_type": None}
        for name, tensor in state.items()
        if isinstance(tensor, torch.Tensor) and (buffers or _parameter_like(name, tensor))
    ]


def _parameter_like(name: str, tensor: torch.Tensor) -> bool:
    return name.rpartition(".")[2] not in BUFFER_NAMES and (tensor.is_floating_point() or tensor.is_complex())
