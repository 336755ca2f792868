"""Two LR schedules active at the same time.

When two LearningRate(Function)Modifiers cover the same epochs, both set the
learning rate at every step and the winner depends on SparseML's internal sort
order (end epoch, start epoch, an md5 of the properties), which nobody can see
in the recipe. Make the ranges consecutive.

Bad:

```yaml
modifiers:
  - !LearningRateFunctionModifier
    lr_func: linear
    init_lr: 0.1
    final_lr: 0.01
    start_epoch: 0.0
    end_epoch: 10.0
  - !LearningRateFunctionModifier
    lr_func: cosine
    init_lr: 0.01
    final_lr: 0.001
    start_epoch: 5.0
    end_epoch: 20.0
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
  - !LearningRateFunctionModifier
    lr_func: cosine
    init_lr: 0.01
    final_lr: 0.001
    start_epoch: 10.0
    end_epoch: 20.0
```
"""

from __future__ import annotations

from collections.abc import Iterator

from recipekit.diagnostics import Severity
from recipekit.ir import Modifier
from recipekit.lint_rules._context import Finding, LintContext, epoch_range, overlap

CODE = "L342"
NAME = "conflicting-lr"
SEVERITY = Severity.WARNING


def _groups(modifier: Modifier) -> set[int] | None:
    groups = modifier.params["param_groups"].value if "param_groups" in modifier.params else None
    return None if groups is None else set(groups)


def check(ctx: LintContext) -> Iterator[Finding]:
    schedules = ctx.of_type("LearningRateFunctionModifier", "LearningRateModifier")
    for i, later in enumerate(schedules):
        for earlier in schedules[:i]:
            a, b = _groups(earlier), _groups(later)
            if a is not None and b is not None and not a & b:
                continue
            if overlap(epoch_range(earlier, ctx.training_end), epoch_range(later, ctx.training_end)):
                message = (
                    f"{later.type} overlaps the {earlier.type} above: both set the LR at every step, and SparseML's sort order decides"
                )
                yield Finding(ctx.span_of(later, "start_epoch"), message, (("the other LR schedule", earlier.span),))
