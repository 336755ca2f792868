"""The plan layer: the compiled plan, its structural check, SparseML's closed forms,
selectors, the simulation behind ``expand``, ``show`` and parameter manifests.

Standard library only. A face: importing ``recipekit.plan.schedule`` runs this
file on the lint path, so the names below are re-exported lazily (PEP 562),
never imported here (docs/architecture.md, "Cold start").
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from recipekit.plan.model import Plan, PlanError, load_plan, plan_from_json
    from recipekit.plan.ops import Instruction

__all__ = ["Instruction", "Plan", "PlanError", "load_plan", "plan_from_json"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from recipekit.plan import model, ops

        return getattr(ops if name == "Instruction" else model, name)
    raise AttributeError(f"module 'recipekit.plan' has no attribute {name!r}")
