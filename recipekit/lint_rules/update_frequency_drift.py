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
            message = (
                f"update_frequency {frequency} is {steps:.4g} steps at {spe:g} steps per epoch: "
                f"updates drift later and later; use a multiple of {1 / spe:.4g}"
            )
            yield Finding(ctx.span_of(modifier, "update_frequency"), message)
