"""MultiStepLR milestones out of order or outside the modifier's range.

Milestones are epochs and must increase strictly, lie after start_epoch and,
when end_epoch is set, before it. SparseML checks only at the first scheduler
step, mid-training ("milestones ... all must be greater than start_epoch").

Bad:

```yaml
modifiers:
  - !LearningRateModifier
    lr_class: MultiStepLR
    lr_kwargs: {milestones: [30, 20], gamma: 0.1}
    init_lr: 0.1
    start_epoch: 0.0
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
from itertools import pairwise

from recipekit.diagnostics import Severity
from recipekit.lint_rules._context import Finding, LintContext

CODE = "L341"
NAME = "milestones"
SEVERITY = Severity.ERROR


def check(ctx: LintContext) -> Iterator[Finding]:
    for modifier in ctx.of_type("LearningRateModifier"):
        milestones = modifier.value("lr_kwargs").get("milestones")
        if modifier.value("lr_class") != "MultiStepLR" or not isinstance(milestones, list):
            continue
        span = ctx.span_of(modifier, "lr_kwargs")
        start, end = modifier.value("start_epoch"), modifier.value("end_epoch")
        if any(not isinstance(m, (int, float)) or isinstance(m, bool) for m in milestones):
            yield Finding(span, f"milestones must be epochs (numbers), not {milestones}")
            continue
        if any(b <= a for a, b in pairwise(milestones)):
            yield Finding(span, f"milestones {milestones} must increase strictly")
        outside = [m for m in milestones if m <= start or (end >= 0 and m >= end)]
        if outside:
            bounds = f"after start_epoch {start}" + (f" and before end_epoch {end}" if end >= 0 else "")
            yield Finding(span, f"milestones {outside} must lie {bounds}; SparseML fails at the first scheduler step")
