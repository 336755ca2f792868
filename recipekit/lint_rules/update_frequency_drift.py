"""An update_frequency that is not a whole number of steps.

SparseML measures each update from the previous *actual* update, which happens
at the first step at or after it. When update_frequency is not a multiple of
1/steps-per-epoch, every update is late and the lateness accumulates: 0.5
epochs at 3 steps per epoch updates at 1.0, 1.67, 2.33, … instead of 1.5, 2.0.

Steps per epoch: 3

Bad:

```yaml
modifiers:
  - !GMPruningModifier
    params: ["re:.*weight"]
    init_sparsity: 0.05
    final_sparsity: 0.8
    start_epoch: 1.0
    end_epoch: 4.0
    update_frequency: 0.5
```

Good:

```yaml
modifiers:
  - !GMPruningModifier
    params: ["re:.*weight"]
    init_sparsity: 0.05
    final_sparsity: 0.8
    start_epoch: 1.0
    end_epoch: 4.0
    update_frequency: 1.0
```
"""

from __future__ import annotations

from collections.abc import Iterator

from recipekit.diagnostics import Severity
from recipekit.lint_rules._context import GRADUAL_PRUNERS, Finding, LintContext
from recipekit.lint_rules._helpers import exact_text, number_text

CODE = "L351"
NAME = "update-frequency-drift"
SEVERITY = Severity.WARNING


def check(ctx: LintContext) -> Iterator[Finding]:
    spe = ctx.steps_per_epoch
    if spe is None:
        return
    for modifier in ctx.of_type(*GRADUAL_PRUNERS):
        frequency = modifier.value("update_frequency")
        steps = frequency * spe
        if frequency > 0 and abs(steps - round(steps)) > 1e-9:
            count = max(1, round(steps))
            # A suggestion that passes this rule: 0.3333 at 3 steps per epoch drifts too, eval(1/3) does not.
            text = exact_text(count / spe, f"{count}/{number_text(spe)}", lambda v: v > 0 and _whole_steps(v * spe))
            message = (
                f"update_frequency {frequency} is {steps:.4g} steps at {spe:g} steps per epoch: "
                f"updates drift later and later; use {text} ({count} step{'s' if count != 1 else ''}) or another whole number of steps"
            )
            yield Finding(ctx.span_of(modifier, "update_frequency"), message)


def _whole_steps(steps: float) -> bool:
    return abs(steps - round(steps)) <= 1e-9
