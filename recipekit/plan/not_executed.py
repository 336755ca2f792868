"""What a plan records but the recipekit runtime does not execute, and why (C410, L364).

One table, read by the compiler (C410 at compile time), the linter (L364, so `recipe-lint`
never says "no problems" about a recipe the runtime will partly skip) and the runtime (Python
warnings at `attach`, refusal under ``strict=True``).  A plan records such a modifier as a
``note`` instruction whose ``origin.modifier`` names it.  Standard library only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the linter imports this module cold; the ops module stays off its path
    from recipekit.plan.ops import Instruction, NoteOp

#: Modifier type → why the runtime does not execute it (None: nothing to execute, e.g. EpochRange).
NOT_EXECUTED: dict[str, str | None] = {
    "EpochRangeModifier": None,
    "PerLayerDistillationModifier": "distillation changes the loss; add it in your training loop",
    "SparsificationLoggingModifier": "logging only",
    "LayerPruningModifier": "the recipekit runtime does not remove layers",
    "LayerThinningModifier": "the recipekit runtime does not thin layers",
    "PowerpropagationModifier": "the recipekit runtime does not re-parametrize weights",
    "SetParamModifier": "the recipekit runtime does not set parameter values",
    "GradualParamModifier": "the recipekit runtime does not set parameter values",
    "ACDCPruningModifier": "AC/DC with more than one phase is not supported by the recipekit runtime yet",
    "RigLPruningModifier": "RigL regrowth is not supported by the recipekit runtime yet",
    "TopKASTPruningModifier": "Top-KAST is not supported by the recipekit runtime yet",
}


def acdc_executes(start_epoch: float, end_epoch: float, update_frequency: float) -> bool:
    """The runtime executes AC/DC with a single compressed phase only."""
    return not (end_epoch < 0 or (end_epoch - start_epoch) > update_frequency)


def reason_not_executed(modifier_type: str, values: Mapping[str, Any] | None = None) -> str | None:
    """Why the runtime skips this modifier, or None when it executes it (or there is nothing to do)."""
    reason = NOT_EXECUTED.get(modifier_type)
    if modifier_type == "ACDCPruningModifier" and values is not None:
        start, end = float(values["start_epoch"]), float(values["end_epoch"])
        return None if acdc_executes(start, end, float(values["update_frequency"])) else reason
    return reason


def skipped_notes(instructions: Sequence[Instruction]) -> list[tuple[NoteOp, str]]:
    """The plan's ``note`` instructions for modifiers the runtime skips, each with the reason."""
    skipped = []
    for instruction in instructions:
        if instruction["op"] == "note":
            reason = NOT_EXECUTED.get(instruction["origin"]["modifier"])
            if reason is not None:
                skipped.append((instruction, reason))
    return skipped
