"""Checks for the ways a training loop can make a plan do less than it says, silently.

Each was met in a real integration (docs/runtime.md, "Mistakes the runtime catches"):
a wrapper handed in instead of the torch optimizer (accelerate's ``AcceleratedOptimizer``,
Lightning's ``LightningOptimizer``), an optimizer that holds none of the model's parameters
(the Hugging Face Trainer builds its own when it is not given one), parameter names that differ
by a wrapper's prefix (``module.`` of DDP, ``model.`` of a LightningModule, ``_orig_mod.`` of
``torch.compile``), another LR scheduler writing the LR the recipe owns, and a loop that stops
before the plan's last step or runs past it.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from typing import Any

import torch

#: Prefixes that wrappers add to every parameter name of the model they wrap.
WRAPPER_PREFIXES = ("module.", "model.", "_orig_mod.")
#: Patterns that name no parameter by text (``__ALL__``, ``__ALL_PRUNABLE__``): never prefixed.
_TOKEN = re.compile(r"^__\w+__$")


class RecipeRuntimeWarning(UserWarning):
    """The run does, or did, less than the plan says; the message says what and what to do."""


def warn(message: str) -> None:
    # stacklevel 3: the caller of the runtime method that found it (attach, finalize, the step).
    warnings.warn(message, RecipeRuntimeWarning, stacklevel=3)


def unwrap_optimizer(optimizer: Any, refuse: Callable[[str], Exception]) -> torch.optim.Optimizer:
    """The torch optimizer inside ``optimizer``: itself, or what it wraps as ``.optimizer``."""
    seen = 0
    current = optimizer
    while seen < 4:
        inner = getattr(current, "optimizer", None)
        # accelerate's AcceleratedOptimizer subclasses Optimizer without its __init__: its own
        # step-hook registry does not exist, so the wrapped optimizer is the one to hook.
        if isinstance(inner, torch.optim.Optimizer) and inner is not current:
            current, seen = inner, seen + 1
            continue
        if isinstance(current, torch.optim.Optimizer) and hasattr(current, "_optimizer_step_pre_hooks"):
            return current
        break
    kind = type(optimizer).__name__
    raise refuse(
        f"attach needs the torch.optim.Optimizer that steps the model; got a {kind} without one. If it wraps an "
        "optimizer, pass the wrapped one (for accelerate and Lightning wrappers: `optimizer.optimizer`)"
    )


def check_optimizer_holds(
    optimizer: torch.optim.Optimizer, params: dict[str, torch.nn.Parameter], touched: list[str], refuse: Callable[[str], Exception]
) -> None:
    """Refuse an optimizer that does not step the parameters the plan works on (or none of the model's)."""
    held = {id(p) for group in optimizer.param_groups for p in group["params"]}
    if params and not any(id(p) in held for p in params.values()):
        raise refuse(
            f"the optimizer holds none of the model's {len(params)} parameters, so its steps never train this model and "
            "the plan would never run; pass the optimizer that trains this model (a Trainer that builds its own "
            "optimizer must be given yours, e.g. `optimizers=(optimizer, None)`)"
        )
    missing = [name for name in touched if id(params[name]) not in held]
    if missing:
        shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        raise refuse(
            f"the optimizer does not hold {shown}, which the plan prunes or unfreezes; add them to the optimizer's "
            "param groups (a frozen parameter left out of the optimizer is never updated)"
        )


def prefix_variants(patterns: list[str], names: list[str]) -> list[list[str]]:
    """The patterns rewritten for a model whose names differ by a wrapper prefix, most likely first."""
    variants: list[list[str]] = []
    model_prefix = _common_wrapper_prefix(names)
    # Recipe written for the bare model, model wrapped: add the wrapper's prefix (and its tails).
    parts = model_prefix.split(".")[:-1]
    for i in range(len(parts)):
        variants.append([_with_prefix(p, ".".join(parts[i:]) + ".") for p in patterns])
    # Recipe written for the wrapped model, model bare (or wrapped differently): strip prefixes.
    stripped = [_without_prefixes(p) for p in patterns]
    if stripped != patterns:
        variants.append(stripped)
        variants.extend([[_with_prefix(p, ".".join(parts[i:]) + ".") for p in stripped] for i in range(len(parts))])
    return variants


def prefix_hint(patterns: list[str], names: list[str]) -> str:
    """Why a name may not match: the model's and the recipe's wrapper prefixes, in words."""
    model_prefix = _common_wrapper_prefix(names)
    recipe_prefixes = sorted({w for p in patterns for w in WRAPPER_PREFIXES if p.removeprefix("re:").startswith(w)})
    if model_prefix:
        return f"; every parameter of the model starts with {model_prefix!r}, and no name matched with or without it"
    if recipe_prefixes:
        return f"; the recipe writes a {recipe_prefixes[0]!r} prefix the model's names lack, and no name matched without it either"
    return ""


def _common_wrapper_prefix(names: list[str]) -> str:
    prefix = ""
    while names:
        rest = [n[len(prefix) :] for n in names]
        wrapper = next((w for w in WRAPPER_PREFIXES if all(r.startswith(w) for r in rest)), None)
        if wrapper is None:
            break
        prefix += wrapper
    return prefix


def _with_prefix(pattern: str, prefix: str) -> str:
    if _TOKEN.match(pattern):
        return pattern
    if pattern.startswith("re:"):
        return "re:" + re.escape(prefix) + pattern[3:]
    return prefix + pattern


def _without_prefixes(pattern: str) -> str:
    regex = pattern.startswith("re:")
    body = pattern[3:] if regex else pattern
    changed = True
    while changed:
        changed = False
        for wrapper in WRAPPER_PREFIXES:
            for written in (wrapper, re.escape(wrapper)) if regex else (wrapper,):
                if body.startswith(written):
                    body, changed = body[len(written) :], True
    return ("re:" + body) if regex else body


class LrWatch:
    """Notices, once, that something other than the plan changed an LR the plan had set."""

    __slots__ = ("written", "reported")

    def __init__(self) -> None:
        #: param group index → the LR it had when the plan last left it.
        self.written: dict[int, float] = {}
        self.reported = False

    def check(self, groups: list[dict[str, Any]], k: int) -> None:
        if self.reported:
            return
        for index, value in self.written.items():
            now = groups[index]["lr"] if index < len(groups) else value
            if now != value:
                self.reported = True
                warn(
                    f"param group {index}'s LR changed from {value} to {now} before optimizer step {k}, and not by the plan: "
                    "another LR scheduler (or code) is competing with the recipe's LR modifiers. Remove it, or remove the "
                    "recipe's LR modifiers (reported once)"
                )
                return

    def remember(self, groups: list[dict[str, Any]]) -> None:
        if not self.reported:
            for index in self.written:
                self.written[index] = groups[index]["lr"]


def end_of_run_message(step: int, total_steps: int, steps_per_epoch: float) -> str | None:
    """What finalize() says when the loop did not run exactly the plan's steps."""
    if step < total_steps:
        return (
            f"training stopped after {step} optimizer steps, but the plan runs {total_steps} "
            f"({total_steps / steps_per_epoch:g} epochs at {steps_per_epoch:g} steps per epoch): what the plan does after "
            f"step {step} (pruning updates, LR changes, QAT) did not happen. Train for the plan's steps, or compile the "
            "recipe with the steps per epoch your loop really takes"
        )
    if step > total_steps:
        return (
            f"training ran {step} optimizer steps, {step - total_steps} past the plan's last step ({total_steps}): "
            "those steps ran with the plan's final state. Check --steps-per-epoch (a Trainer with gradient accumulation "
            "steps ceil(batches / accumulation) times per epoch) or stop at the plan's end (`runner.done`)"
        )
    return None


def check_qat_names(instructions: list[Any], model: torch.nn.Module, refuse: Callable[[str], Exception]) -> None:
    """Refuse, before anything changes, a QuantizationModifier ``ignore``/``scheme_overrides`` entry that
    names no module: SparseML raised only when QAT started (``recipekit.plan.qat_names``, shared with lint's L338)."""
    from recipekit.plan import qat_names

    modules = [(name, type(module).__name__) for name, module in model.named_modules()]
    for instruction in instructions:
        if instruction["op"] != "qat" or instruction.get("flavour") == "legacy":
            continue
        for key, entry in qat_names.unmatched_in_config(instruction["config"], modules):
            origin = instruction.get("origin") or {}
            where = f"{origin.get('path')}:{origin.get('line')}:{origin.get('column')} ({origin.get('modifier')})"
            raise refuse(f"{where}: {qat_names.message(key, entry, modules)}; set strict: false to let it match nothing")
