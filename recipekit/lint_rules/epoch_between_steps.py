"""An epoch that does not fall on an optimizer step.

With a known number of steps per epoch (`--steps-per-epoch`), an epoch such as
2.9 at 4 steps per epoch lies between steps 11 and 12. SparseML acts at the
first step at or after it, so the schedule shifts, a LearningRateFunction
overshoots final_lr, and an `inverse_cubic` pruner crashes. Use epochs that are
multiples of 1/steps-per-epoch.

Steps per epoch: 4

Bad:

```yaml
modifiers:
  - !LearningRateFunctionModifier
    lr_func: linear
    init_lr: 0.1
    final_lr: 0.01
    start_epoch: 0.0
    end_epoch: 2.9
```

Good:

```yaml
modifiers:
  - !LearningRateFunctionModifier
    lr_func: linear
    init_lr: 0.1
    final_lr: 0.01
    start_epoch: 0.0
    end_epoch: 3.0
```
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

from recipekit.diagnostics import Severity
from recipekit.lint_rules._context import Finding, LintContext
from recipekit.lint_rules._helpers import exact_text
from recipekit.plan import schedule

CODE = "L350"
NAME = "epoch-between-steps"
SEVERITY = Severity.WARNING


def check(ctx: LintContext) -> Iterator[Finding]:
    spe = ctx.steps_per_epoch
    if spe is None:
        return
    for modifier in ctx.recipe.modifiers:
        for name in ("start_epoch", "end_epoch", "disable_quantization_observer_epoch", "freeze_bn_stats_epoch"):
            param = modifier.params.get(name)
            if param is None or not param.given or param.ignored or not isinstance(param.value, (int, float)) or param.value < 0:
                continue
            step = schedule.first_step_at(param.value, spe)
            actual = schedule.epoch_at(step, spe)
            if abs(actual - param.value) > 1e-9:
                text = exact_text(actual, _expression(step, spe), partial(_on_step, step=step, spe=spe))
                message = (
                    f"{name} {param.value} falls between steps at {spe:g} steps per epoch: "
                    f"it takes effect at step {step} (epoch {actual:.6g}); write {text} to say so"
                )
                yield Finding(param.span or modifier.span, message)


def _on_step(value: float, step: int, spe: float) -> bool:
    return schedule.first_step_at(value, spe) == step and abs(schedule.epoch_at(step, spe) - value) <= 1e-9


def _expression(step: int, spe: float) -> str | None:
    """``q + r/spe``, the epoch of ``step`` computed as SparseML's step wrapper does (whole steps per epoch only)."""
    if not float(spe).is_integer():
        return None
    whole, rest = divmod(step, int(spe))
    fraction = f"{rest}/{int(spe)}"
    return fraction if whole == 0 else f"{whole} + {fraction}"
