"""SetLearningRateModifier inside an LR schedule's range.

A LearningRate(Function)Modifier sets the learning rate at every step of its
range, so a SetLearningRateModifier inside it lasts one step before the
schedule overwrites it. Move it to where the schedule ends, or change the
schedule.

Bad:

```yaml
modifiers:
  - !LearningRateFunctionModifier
    lr_func: linear
    init_lr: 0.1
    final_lr: 0.01
    start_epoch: 0.0
    end_epoch: 10.0
  - !SetLearningRateModifier
    learning_rate: 0.05
    start_epoch: 5.0
```

Good:

```yaml
modifiers:
  - !LearningRateFunctionModifier
    lr_func: linear
    init_lr: 0.1
    final_lr: 0.01
    start_epoch: 0.0
    end_epoch: 10.0
  - !SetLearningRateModifier
    learning_rate: 0.005
    start_epoch: 10.0
```
"""

from __future__ import annotations

from collections.abc import Iterator

from recipekit.diagnostics import Severity
from recipekit.lint_rules._context import Finding, LintContext, epoch_range

CODE = "L343"
NAME = "set-lr-inside-schedule"
SEVERITY = Severity.WARNING


def check(ctx: LintContext) -> Iterator[Finding]:
    schedules = ctx.of_type("LearningRateFunctionModifier", "LearningRateModifier")
    for setter in ctx.of_type("SetLearningRateModifier"):
        at = max(float(setter.value("start_epoch")), 0.0)
        for schedule in schedules:
            start, end = epoch_range(schedule, ctx.training_end)
            if start < at < end:
                message = f"the LR set at epoch {at} lasts one step: the {schedule.type} running until {end} overwrites it"
                yield Finding(ctx.span_of(setter, "start_epoch"), message, (("the LR schedule", schedule.span),))
