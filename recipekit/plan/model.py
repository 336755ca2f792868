"""The execution plan: a flat list of step-keyed instructions, as JSON.

Standard library only: the runtime imports this module and torch, nothing
else from recipekit.  ``docs/plan-format.md`` documents every field and
``recipekit/schema/plan.schema.json`` is the contract tests validate against.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from recipekit.plan.ops import Instruction

if TYPE_CHECKING:
    from recipekit.diagnostics import Diagnostic

PLAN_FORMAT = "recipekit-plan"
PLAN_VERSION = 1


class PlanError(ValueError):
    """A plan file that cannot be used: truncated, edited after compile, or of an unknown version."""


class PlanWarning(UserWarning):
    """A plan file that loads but cannot be checked: it has no digest (written before recipekit recorded one)."""


@dataclass
class Plan:
    recipe_path: str
    recipe_sha256: str
    steps_per_epoch: float
    max_epochs: int
    total_steps: int
    variables: dict[str, Any] = field(default_factory=dict)
    selectors: list[dict[str, Any]] = field(default_factory=list)
    instructions: list[Instruction] = field(default_factory=list)
    #: What the compiler warned about (C410 "recorded, not executed", P128, ...); not part of the
    #: plan file: a plan read back with `load_plan` has none, and the runtime re-derives C410 itself.
    warnings: list[Diagnostic] = field(default_factory=list, compare=False, repr=False)

    def to_json(self) -> str:
        document = {
            "format": PLAN_FORMAT,
            "version": PLAN_VERSION,
            "recipe": {"path": self.recipe_path, "sha256": self.recipe_sha256},
            "steps_per_epoch": self.steps_per_epoch,
            "max_epochs": self.max_epochs,
            "total_steps": self.total_steps,
            "variables": self.variables,
            "selectors": self.selectors,
            "instructions": self.instructions,
        }
        from recipekit.plan.digest import digest

        # Recorded when the plan is written, checked when it is read (plan_from_json).
        document["digest"] = digest(document)
        return json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n"

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.to_json().encode("utf-8")).hexdigest()

    def selector(self, selector_id: str) -> dict[str, Any]:
        for selector in self.selectors:
            if selector["id"] == selector_id:
                return selector
        raise PlanError(f"instruction refers to unknown selector {selector_id!r}")


def plan_from_json(text: str) -> Plan:
    """Parse and check a plan; raise :class:`PlanError` with a clear reason."""
    try:
        document = json.loads(text)
    except ValueError as error:
        raise PlanError(f"not a plan: invalid JSON ({error})") from None
    if not isinstance(document, dict) or document.get("format") != PLAN_FORMAT:
        raise PlanError(f'not a recipekit plan (missing "format": "{PLAN_FORMAT}")')
    if document.get("version") != PLAN_VERSION:
        raise PlanError(f"plan version {document.get('version')!r} is not supported; this recipekit reads version {PLAN_VERSION}")
    from recipekit.plan.check import check_plan_document

    problems = check_plan_document(document)
    if problems:
        raise PlanError("invalid plan: " + "; ".join(problems[:5]))
    _check_digest(document)
    recipe = document["recipe"]
    return Plan(
        recipe_path=recipe["path"],
        recipe_sha256=recipe["sha256"],
        steps_per_epoch=document["steps_per_epoch"],
        max_epochs=document["max_epochs"],
        total_steps=document["total_steps"],
        variables=document["variables"],
        selectors=document["selectors"],
        instructions=cast("list[Instruction]", document["instructions"]),
    )


def _check_digest(document: dict[str, Any]) -> None:
    from recipekit.plan.digest import changed_fields

    if "digest" not in document:
        import warnings

        warnings.warn(
            "this plan has no digest (it was written before recipekit recorded one), so hand edits cannot be found in it; "
            "it is used as it is: recompile its recipe to get a plan that is checked",
            PlanWarning,
            stacklevel=4,
        )
        return
    changes = changed_fields(document)
    if changes:
        shown = "; ".join(changes[:3]) + (f"; and {len(changes) - 3} more" if len(changes) > 3 else "")
        raise PlanError(
            f"the plan was edited after compile; its digest says these are not what compile wrote: {shown}. "
            "Change the recipe and recompile it (recipekit compile) instead of editing the plan"
        )


def load_plan(path: str | os.PathLike[str]) -> Plan:
    if isinstance(path, str) and path.lstrip().startswith("{"):
        raise PlanError("load_plan takes the path of a plan file, and this is plan JSON text: use plan_from_json(text)")
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise PlanError(f"cannot read plan {os.fspath(path)!r}: {error}") from None
    return plan_from_json(text)
