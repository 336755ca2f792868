"""SparseML's scheduling math, in closed form, shared by `expand` and the runtime.

Standard library only: the runtime imports this module, and nothing here may
pull in the compiler.  Every function reproduces SparseML 1.8's arithmetic
operation for operation, because the goldens compare floats to 1e-12.
"""

from __future__ import annotations

import bisect
import math
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from recipekit.plan.ops import LrFunctionOp, LrSchedulerOp

_EPS = sys.float_info.epsilon


def epoch_at(step: int, steps_per_epoch: float) -> float:
    """The epoch SparseML's step wrapper passes to the manager at optimizer step ``step``."""
    return float(step // steps_per_epoch) + float(step % steps_per_epoch) / steps_per_epoch


def first_step_at(epoch: float, steps_per_epoch: float) -> int:
    """The first step whose epoch is ``>= epoch`` (0 for any epoch <= 0)."""
    if epoch <= 0:
        return 0
    step = max(0, math.ceil(epoch * steps_per_epoch) - 2)
    while epoch_at(step, steps_per_epoch) < epoch:
        step += 1
    while step > 0 and epoch_at(step - 1, steps_per_epoch) >= epoch:
        step -= 1
    return step


#: How every command words the training length (recipe-lint's L305, the trainer callbacks, docs/plan-format.md).
LENGTH_RULE = "SparseML's manager.max_epochs: the latest start or end epoch of any modifier, rounded up"


def max_epochs(epochs: list[tuple[float, float]]) -> int:
    """manager.max_epochs: ceil over every start and end that is not -1, or -1."""
    values = [math.ceil(v) for start, end in epochs for v in (start, end) if v > -1]
    return max(values) if values else -1


def interpolate(epoch: float, start: float, end: float, initial: float, final: float, inter_func: str) -> float:
    """sparseml.utils.helpers.interpolate (the sparsity ramp of gradual pruners)."""
    x = (epoch - start) / (end - start)
    if inter_func == "linear":
        y = x
    elif inter_func == "cubic":
        y = 1 - (1 - x) ** 3
    else:
        y = 1 - (1 - x) ** (1.0 / 3.0)
    if y <= _EPS:
        return initial
    if y >= 1.0 - _EPS:
        return final
    return initial + y * (final - initial)


def lr_function(
    func: str, epoch: float, start: float, end: float, init_lr: float, final_lr: float, cycle_epochs: float, steps_per_epoch: float
) -> float:
    """LearningRateFunctionModifier's learning rate at ``epoch`` (SparseML 1.8, not clamped)."""
    s = start if start > 0 else 0.0
    if func == "linear":
        return init_lr + (epoch - s) / (end - s) * (final_lr - init_lr)
    if func == "cosine":
        x = (epoch - s) / (end - s)
        if final_lr < init_lr:
            return final_lr + (init_lr - final_lr) * (1 + math.cos(math.pi * x)) / 2
        return init_lr + (final_lr - init_lr) * (1 - math.cos(math.pi * x)) / 2
    cycle = cycle_epochs * steps_per_epoch
    current = (epoch - start) * steps_per_epoch
    span = (end - start) * steps_per_epoch
    if current > int(span / cycle) * cycle:
        cycle = span % cycle
    return init_lr - ((current % cycle) / (cycle - 1)) * (init_lr - final_lr)


def update_due(updates: Mapping[str, Any], step: int) -> bool:
    """Whether a prune instruction's ``updates`` include ``step``."""
    if "every_step" in updates:
        first, last = updates["every_step"]
        return bool(first <= step <= last)
    steps = updates["steps"]  # sorted: a bisect keeps the per-step cost flat however many updates there are
    index = bisect.bisect_left(steps, step)
    return index < len(steps) and steps[index] == step


def instruction_lr(instruction: LrFunctionOp, epoch: float, steps_per_epoch: float) -> float:
    """The LR an ``lr_function`` instruction sets at ``epoch``."""
    return lr_function(
        instruction["func"], epoch, instruction["start_epoch"], instruction["end_epoch"], instruction["init_lr"],
        instruction["final_lr"], instruction["cycle_epochs"], steps_per_epoch,
    )  # fmt: skip


def scheduler_lr(instruction: LrSchedulerOp, step: int, epoch: float) -> float:
    """LearningRateModifier's torch scheduler in closed form at a step after it started."""
    init = float(instruction["init_lr"])
    gamma = float(instruction.get("gamma", 1.0))
    since = step - int(instruction["origin_step"])
    kind = instruction["lr_class"]
    if kind in ("StepLR", "ExponentialLR"):
        return float(init * gamma ** (since // instruction["step_size_steps"]))
    if kind == "MultiStepLR":
        return init * gamma ** sum(1 for m in instruction["milestone_steps"] if m <= since)
    eta_min = float(instruction["eta_min"])
    period = float(instruction["cycle_epochs"])
    start = float(instruction["start_epoch"])
    t = epoch - start if start >= 0 else 0.0
    if t >= period:
        t = t % period
    return eta_min + (init - eta_min) * (1 + math.cos(math.pi * t / period)) / 2
