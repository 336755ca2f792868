"""MultiStepLR or CosineAnnealingWarmRestarts with start_epoch: -1.

SparseML converts milestones relative to start_epoch, so with -1 every
MultiStepLR milestone fires one epoch late; CosineAnnealingWarmRestarts is
stepped with epoch 0 forever and the LR never moves. Write start_epoch: 0.0.

Bad:

```yaml
modifiers:
  - !LearningRateModifier
    lr_class: MultiStepLR
    lr_kwargs: {milestones: [20, 30], gamma: 0.1}
    init_lr: 0.1
    start_epoch: -1
```

Good:

```yaml
modifiers:
  - !LearningRateModifier
    lr_class: MultiStepLR
    lr_kwargs: {milestones: [20, 30], gamma: 0.1}
    init_lr: 0.1
    start_epoch: 0.0
```
"""

from __future__ import annotations

from collections.abc import Iterator

from recipekit.diagnostics import Severity
from recipekit.lint_rules._context import Finding, LintContext

CODE = "L344"
NAME = "lr-start-minus-one"
SEVERITY = Severity.WARNING


def check(ctx: LintContext) -> Iterator[Finding]:
    for modifier in ctx.of_type("LearningRateModifier"):
        if modifier.value("start_epoch") != -1:
            continue
        lr_class = modifier.value("lr_class")
        if lr_class == "MultiStepLR":
            message = "with start_epoch -1 SparseML fires every milestone one epoch late; write start_epoch: 0.0"
        elif lr_class == "CosineAnnealingWarmRestarts":
            message = "with start_epoch -1 SparseML never moves the cosine LR; write start_epoch: 0.0"
        else:
            continue
        # No automatic fix: changing start_epoch changes the schedule, which is the author's call.
        yield Finding(ctx.span_of(modifier, "start_epoch"), message)
