"""What the trainer callbacks share: the plan for the trainer's step count, the length check,
the torch optimizer behind a wrapper, and the runner state saved beside a trainer checkpoint.

Imports recipekit's plan model and runtime, and torch; never a training framework.
"""

from __future__ import annotations

import math
import os
import warnings
from pathlib import Path
from typing import Any

import torch

from recipekit.plan.model import Plan, load_plan
from recipekit.plan.schedule import LENGTH_RULE
from recipekit.runtime import misuse
from recipekit.runtime.runner import PlanRunner, RuntimeRefusal

#: The runner's state, written into every trainer checkpoint directory.
STATE_FILE = "recipekit_runner.pt"


class IntegrationWarning(UserWarning):
    """A trainer setting recipekit changed or overrode (training length, LR scheduler)."""


def steps_per_epoch(batches: int, accumulation: int) -> int:
    """Optimizer steps in an epoch of ``batches`` micro-batches: both trainers step on a short last window."""
    return max(math.ceil(batches / accumulation), 1)


def unwrap_optimizer(optimizer: Any, trainer: str) -> torch.optim.Optimizer:
    """The torch optimizer whose ``step`` updates the weights, behind any ``.optimizer`` wrappers."""

    def refuse(_: str) -> RuntimeRefusal:
        what = "no optimizer" if optimizer is None else f"a {type(optimizer).__name__}"
        return RuntimeRefusal(
            f"{trainer} gave recipekit {what}, with no torch.optim.Optimizer behind it: the recipe's schedule runs in the "
            "optimizer's step, so it needs one (docs/integrations.md)"
        )

    return misuse.unwrap_optimizer(optimizer, refuse)


def resolve_plan(recipe: Any, variables: dict[str, Any] | None, spe: int) -> Plan:
    """Compile ``recipe`` (a path, recipe text or a Plan) for ``spe`` steps per epoch, or check a compiled plan's."""
    if isinstance(recipe, (str, os.PathLike)) and str(recipe).endswith(".json") and "\n" not in str(recipe):
        recipe = load_plan(recipe)
    if isinstance(recipe, Plan):
        if variables:
            raise RuntimeRefusal("variables= apply when compiling a recipe; this is a compiled plan (compile it with them instead)")
        if recipe.steps_per_epoch != spe:
            raise RuntimeRefusal(
                f"the plan was compiled for {recipe.steps_per_epoch:g} steps per epoch but the trainer takes {spe}: "
                f"recompile with --steps-per-epoch {spe}, or pass the recipe itself and recipekit compiles it for the trainer"
            )
        return recipe
    return _compile(recipe, spe, variables)


def _compile(recipe: Any, spe: int, variables: dict[str, Any] | None) -> Plan:
    """``recipekit.compile_recipe`` without importing the entry points: errors become one refusal."""
    from recipekit.compiler import compile_source
    from recipekit.diagnostics import Severity
    from recipekit.source import read_source, source_from_text

    if isinstance(recipe, str) and ("\n" in recipe or "\r" in recipe):
        source, diagnostics = source_from_text(recipe, "<recipe>", markdown=None)  # recipe text, as in SparseML
    else:
        source, diagnostics = read_source(Path(recipe))
    plan = None
    if source is not None:
        plan, diagnostics = compile_source(source, spe, variables)
    if plan is None:
        errors = [d for d in diagnostics if d.severity is Severity.ERROR] or diagnostics
        first = errors[0]
        more = f" (and {len(errors) - 1} more: `recipe-lint` lists them)" if len(errors) > 1 else ""
        where = f"{first.location.path}:{first.location.line}:{first.location.column}"
        raise RuntimeRefusal(f"the recipe does not compile: {where}: {first.code} {first.message}{more}")
    return plan


def recipe_epochs(recipe: Any, variables: dict[str, Any] | None) -> float | None:
    """The recipe's training length in epochs, or None when it cannot be compiled yet (reported later)."""
    try:
        plan = resolve_plan(recipe, variables, 1) if not isinstance(recipe, Plan) else recipe
    except Exception:  # noqa: BLE001 - the real compile, at train start, reports the error
        return None
    return float(plan.max_epochs)


#: Said with every length mismatch, in the words recipe-lint's L305 and docs/plan-format.md use.
_LENGTH = f"the recipe's length is {LENGTH_RULE}; recipe-lint's L305 names the modifier that sets it"


def check_length(plan: Plan, trainer_steps: int, adjust: bool, fix: str) -> int | None:
    """Reconcile the plan's steps with the trainer's: None if equal, else the step to stop at (adjust) or a refusal."""
    if plan.total_steps == trainer_steps:
        return None
    what = (
        f"the recipe trains for {plan.max_epochs:g} epochs = {plan.total_steps} optimizer steps at "
        f"{plan.steps_per_epoch:g} steps per epoch, but the trainer will take {trainer_steps}"
    )
    if adjust and plan.total_steps < trainer_steps:
        warnings.warn(
            f"{what}: training stops after step {plan.total_steps}, where the recipe ends ({fix}; {_LENGTH})",
            IntegrationWarning,
            stacklevel=3,
        )
        return plan.total_steps
    raise RuntimeRefusal(f"{what}: {fix} ({_LENGTH})")


def distills(plan: Plan, teacher: Any) -> bool:
    """Whether the runner will distill (the plan has a DistillationModifier and the teacher is not ``"disable"``)."""
    return any(i["op"] == "distill" for i in plan.instructions) and not (isinstance(teacher, str) and teacher == "disable")


def save_state(runner: PlanRunner, directory: str | os.PathLike[str]) -> None:
    target = Path(directory) / STATE_FILE
    temporary = target.with_name(f".{STATE_FILE}.tmp")
    torch.save(runner.state_dict(), temporary)
    os.replace(temporary, target)


def load_state(runner: PlanRunner, directory: str | os.PathLike[str] | None, trainer_step: int) -> None:
    """Restore the runner from a checkpoint the trainer resumes from at ``trainer_step``."""
    path = Path(directory) / STATE_FILE if directory is not None else None
    if path is None or not path.is_file():
        where = f"in {directory}" if directory is not None else "(the checkpoint directory is unknown)"
        raise RuntimeRefusal(
            f"the trainer resumes at optimizer step {trainer_step} but recipekit's runner state ({STATE_FILE}) is not {where}: "
            "resume from a checkpoint saved with this callback, or the recipe would restart at step 0"
        )
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict) or state.get("step") != trainer_step:
        saved = state.get("step") if isinstance(state, dict) else None
        raise RuntimeRefusal(f"{path} holds the runner at step {saved!r} but the trainer resumes at step {trainer_step}")
    runner.load_state_dict(state)
