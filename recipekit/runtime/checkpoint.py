"""Checkpoints: a parameter manifest from a checkpoint file (`recipekit params --checkpoint`), read
with torch, and what a runner's saved state says about the plan it resumes with.

Checkpoints are untrusted: loaded with ``weights_only=True``, never unpickled into objects.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from recipekit.plan.diff import plan_changes
from recipekit.plan.manifest import ManifestError
from recipekit.plan.model import Plan

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


#: Instructions whose runtime state a runner's state_dict keeps, by position: a resumed plan must hold the same ones.
STATEFUL_OPS = frozenset({"prune", "acdc", "qat", "replace_modules"})


def check_resumed_plan(state: dict[str, Any], plan: Plan, allow_changed_plan: bool, refusal: type[Exception]) -> list[str]:
    """What changed between the plan ``state`` was saved with and ``plan``; [] when it is the same plan.

    Refuses (``refusal``) a changed plan unless ``allow_changed_plan``, naming each change; refuses even
    then a plan whose stateful instructions (pruners, QAT, layer swaps) differ in kind or order, as the
    saved masks, scores and swaps could not be matched to them.
    """
    if state.get("plan_sha256") == plan.sha256:
        return []
    saved = state.get("plan")
    if not isinstance(saved, str):
        raise refusal(
            "this runner state was saved with a different plan (and by a recipekit that did not record the plan, so what "
            "changed cannot be named); resume with the plan it was made for"
        )
    before = json.loads(saved)
    changes = plan_changes(before, json.loads(plan.to_json())) or ["the plan's digest"]
    listed = "; ".join(changes[:6]) + (f"; and {len(changes) - 6} more" if len(changes) > 6 else "")
    if not allow_changed_plan:
        raise refusal(
            f"this runner state was saved with a different plan: {listed}. Resume with the recipe (and --var, steps_per_epoch) "
            "it was made for, or continue with the new one on purpose: runner.load_state_dict(state, allow_changed_plan=True) "
            "(docs/runtime.md, Resuming)"
        )

    def stateful(instructions: list[Any]) -> list[tuple[Any, Any]]:
        return [(i.get("op"), (i.get("origin") or {}).get("modifier")) for i in instructions if i.get("op") in STATEFUL_OPS]

    if stateful(before.get("instructions") or []) != stateful(list(plan.instructions)):
        raise refusal(
            f"this runner state was saved with a plan whose pruners, QAT or layer swaps differ from this one's ({listed}): "
            "its masks and swaps cannot carry over; a changed plan can continue only with the same modifiers"
        )
    return changes
