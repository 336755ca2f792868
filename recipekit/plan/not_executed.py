"""What a plan records but the recipekit runtime does not execute, and why (C410, L364).

One table, read by the compiler (C410 at compile time), the linter (L364, so `recipe-lint`
never says "no problems" about a recipe the runtime will partly skip) and the runtime (Python
warnings at `attach`, refusal under ``strict=True``).  A plan records such a modifier as a
``note`` instruction whose ``origin.modifier`` names it.  Standard library only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the linter imports this module cold; the ops module stays off its path
    from recipekit.plan.ops import Instruction, NoteOp

#: Modifier type → why the runtime does not execute it (None: nothing to execute, e.g. EpochRange).
NOT_EXECUTED: dict[str, str | None] = {
    "EpochRangeModifier": None,
    "PerLayerDistillationModifier": "distillation changes the loss; add it in your training loop",
    "SparsificationLoggingModifier": "logging only",
    "LayerThinningModifier": "the recipekit runtime does not thin layers",
    "PowerpropagationModifier": "the recipekit runtime does not re-parametrize weights",
    "SetParamModifier": "the recipekit runtime does not set parameter values",
    "GradualParamModifier": "the recipekit runtime does not set parameter values",
    "RigLPruningModifier": "RigL regrowth is not supported by the recipekit runtime yet",
    "TopKASTPruningModifier": "Top-KAST is not supported by the recipekit runtime yet",
}


def reason_not_executed(modifier_type: str) -> str | None:
    """Why the runtime skips this modifier, or None when it executes it (or there is nothing to do)."""
    return NOT_EXECUTED.get(modifier_type)


def skipped_notes(instructions: Sequence[Instruction]) -> list[tuple[NoteOp, str]]:
    """The plan's ``note`` instructions for modifiers the runtime skips, each with the reason."""
    skipped = []
    for instruction in instructions:
        if instruction["op"] == "note":
            reason = NOT_EXECUTED.get(instruction["origin"]["modifier"])
            if reason is not None:
                skipped.append((instruction, reason))
    return skipped
