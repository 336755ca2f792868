"""What the trainer callbacks share: the plan for the trainer's step count, the length check,
the torch optimizer behind a wrapper, and the runner state saved beside a trainer checkpoint.

Imports recipekit's plan model and runtime, and torch; never a training framework.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import re
import sys
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import torch

from recipekit.integrations import attention
from recipekit.integrations.attention import AttentionModification
from recipekit.plan.model import Plan, load_plan
from recipekit.plan.schedule import LENGTH_RULE
from recipekit.runtime import misuse
from recipekit.runtime.runner import PlanRunner, RuntimeRefusal

#: The runner's state, written into every trainer checkpoint directory.
STATE_FILE = "recipekit_runner.pt"


class IntegrationWarning(UserWarning):
    """A trainer setting recipekit changed or overrode (training length, LR scheduler)."""


#: Packages between the user's ``trainer.train()``/``trainer.fit()`` and recipekit's callback code.
_TRAINER_PACKAGES = ("recipekit", "transformers", "accelerate", "lightning", "pytorch_lightning", "lightning_fabric", "torch")
_PLUMBING = ("contextlib", "functools")
#: Set to keep the trainer's frames in the traceback of a refusal (debugging recipekit itself).
TRACEBACK_VARIABLE = "RECIPEKIT_TRACEBACK"


def _in_trainer(frame: Any) -> bool:
    module = str(frame.f_globals.get("__name__", ""))
    return module in _PLUMBING or module.split(".", 1)[0] in _TRAINER_PACKAGES


def warn(message: str | Warning, category: type[Warning] = IntegrationWarning) -> None:
    """``warnings.warn`` pointing at the user's code: the first caller outside recipekit and the trainer.

    A fixed ``stacklevel`` would point into ``trainer_callback.py`` or Lightning's ``call.py``,
    whatever depth the trainer calls its callbacks from.
    """
    frame, level = sys._getframe(1), 2
    while frame.f_back is not None and _in_trainer(frame):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)


@contextlib.contextmanager
def warnings_at_user_code() -> Iterator[None]:
    """Re-issue recipekit's warnings raised inside the block (the runtime's, from attach or finalize) at the user's code.

    Other packages' warnings are re-issued where they were raised; the user's filters decide, once, after the block.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for record in caught:
        if getattr(record.category, "__module__", "").startswith("recipekit"):
            warn(record.message, record.category)
        else:
            warnings.warn_explicit(record.message, record.category, record.filename, record.lineno, source=record.source)


_Call = TypeVar("_Call", bound=Callable[..., Any])


def refusals_as_messages(call: _Call) -> _Call:
    """``call`` whose RuntimeRefusal reaches the caller without the trainer's frames, as pytest or ruff show expected errors.

    A refusal is a complete message about the recipe or the setup, not a bug: the traceback through
    the trainer's loop and callback handler says nothing more. ``RECIPEKIT_TRACEBACK=1`` keeps it.
    """

    @functools.wraps(call)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return call(*args, **kwargs)
        except RuntimeRefusal as refusal:
            shorten(refusal)
            raise  # a bare raise adds no frame: the traceback is the caller's line alone

    return wrapper  # type: ignore[return-value]


def shorten(error: BaseException) -> None:
    """Drop the frames a RuntimeRefusal collected inside the trainer (unless RECIPEKIT_TRACEBACK is set)."""
    if isinstance(error, RuntimeRefusal) and not os.environ.get(TRACEBACK_VARIABLE):
        error.with_traceback(None)
        error.__suppress_context__ = True  # an error the refusal replaced is part of its message


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
        warn(f"{what}: training stops after step {plan.total_steps}, where the recipe ends ({fix}; {_LENGTH})")
        return plan.total_steps
    raise RuntimeRefusal(f"{what}: {fix} ({_LENGTH})")


def samples_gradients(plan: Plan) -> bool:
    """Whether the plan prunes with OBS or M-FAC, which SparseML's Trainer gave the train data's gradient samples."""
    return any(i["op"] == "prune" and i["score"]["kind"] in ("obs", "mfac") for i in plan.instructions)


def loader_options(loader: Any, default_batch_size: int | None = None) -> dict[str, Any]:
    """What a trainer's train loader batches with: dataset, batch size, sampler, collator.

    Read through the wrappers a trainer puts around its ``DataLoader``: accelerate's
    ``DataLoaderShard`` (``base_dataloader``) reports ``batch_size=None`` because it batches with
    a ``batch_sampler``, and its ``BatchSamplerShard`` wraps the Trainer's own ``BatchSampler``.
    """
    base = getattr(loader, "base_dataloader", loader)
    if not isinstance(base, torch.utils.data.DataLoader):
        raise RuntimeRefusal(
            f"the trainer's train dataloader is a {type(base).__name__}, not a torch DataLoader, so recipekit cannot draw OBS/M-FAC "
            "gradient samples from it: pass grad_sampler=GradSampler(data, loss) (docs/runtime.md, 'Gradient samples')"
        )
    batches = base.batch_sampler
    inner = getattr(batches, "batch_sampler", batches)  # accelerate's BatchSamplerShard wraps the trainer's own
    batch_size = getattr(inner, "batch_size", None) or base.batch_size or default_batch_size
    options = {"dataset": base.dataset, "batch_size": batch_size, "collate_fn": base.collate_fn}
    if not isinstance(base.dataset, torch.utils.data.IterableDataset):  # an iterable dataset takes no sampler
        options["sampler"] = getattr(inner, "sampler", None) or base.sampler
    return options


def sample_loader(options: dict[str, Any], kwargs: dict[str, Any] | None) -> torch.utils.data.DataLoader[Any]:
    """A loader of the trainer's batches for gradient samples; the recipe's ``grad_sampler_kwargs`` override its options."""
    merged = {key: value for key, value in options.items() if key != "dataset"}
    extra = dict(kwargs or {})
    if extra.get("shuffle") or "batch_sampler" in extra:
        merged.pop("sampler", None)  # DataLoader refuses a sampler beside either
    if "batch_sampler" in extra:
        merged.pop("batch_size")
    merged.update(extra)
    return torch.utils.data.DataLoader(options["dataset"], **merged)


def check_teacher(plan: Plan, teacher: Any) -> None:
    """Refuse a distilling plan without a teacher in the callback's own words (attach's speak of attach)."""
    distill = next((i for i in plan.instructions if i["op"] == "distill"), None)
    if distill is None or (isinstance(teacher, str) and teacher == "disable") or callable(teacher):
        return
    origin = distill["origin"]
    raise RuntimeRefusal(
        f"{origin['path']}:{origin['line']}:{origin['column']} ({origin['modifier']}): the recipe distills from a teacher: pass "
        "RecipeCallback(recipe, teacher=teacher_model), the model to distill from (e.g. the fine-tuned dense one); "
        'RecipeCallback(recipe, teacher="disable") trains without distillation, as SparseML\'s distillation_teacher="disable" did'
    )


def distills(plan: Plan, teacher: Any) -> bool:
    """Whether the runner will distill (the plan has a DistillationModifier and the teacher is not ``"disable"``)."""
    return any(i["op"] == "distill" for i in plan.instructions) and not (isinstance(teacher, str) and teacher == "disable")


def quantizable_attention(plan: Plan, model: torch.nn.Module, wanted: bool | None, callback: str) -> AttentionModification | None:
    """Give the model SparseML's quantizable attention matmuls when the plan quantizes (integrations/attention.py).

    Before ``attach``, so the QAT planner sees the ``QATMatMul`` modules (and a recipe's
    ``ignore: [QATMatMul]`` matches them, as it did in SparseML). What SparseML did differently
    from what one might expect is said as a warning; where SparseML crashed, a refusal.
    """
    if not any(i["op"] == "qat" for i in plan.instructions):
        return None
    try:
        modification, note = attention.quantize_attention(model, wanted)
    except attention.AttentionError as error:
        raise RuntimeRefusal(_argument(str(error), callback)) from None
    if note is not None:
        warn(_argument(note, callback))
    return modification


def hugging_face_model(module: torch.nn.Module) -> torch.nn.Module | None:
    """The outermost transformers model inside ``module`` (a LightningModule's network), or None."""
    return next((m for m in module.modules() if type(m).__module__.startswith("transformers.")), None)


def _argument(message: str, callback: str) -> str:
    """The message with ``quantize_attention=X`` spelt as the callback's argument."""
    return re.sub(r"quantize_attention=(True|False)", rf"{callback}(..., quantize_attention=\1)", message)


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
