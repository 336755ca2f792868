"""MultiStepLR milestones out of order or outside the modifier's range.

Milestones are epochs and must increase strictly, lie after start_epoch and,
when end_epoch is set, before it. SparseML checks the range only at the first
scheduler step, mid-training ("milestones ... all must be greater than
start_epoch"); milestones out of order it ran as torch's MultiStepLR counts them,
in any order, a repeated one decaying twice.

Bad:

```yaml
modifiers:
  - !LearningRateModifier
    lr_class: MultiStepLR
    lr_kwargs: {milestones: [20, 30], gamma: 0.1}
    init_lr: 0.1
    start_epoch: 0.0
    end_epoch: 25.0
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

from recipekit.compiler import refusals
from recipekit.diagnostics import Severity
from recipekit.lint_rules._context import Finding, LintContext

# One check, two commands: `recipekit compile` refuses with this code too (compiler/refusals.py).
CODE = refusals.MILESTONES
NAME = refusals.NAMES[CODE]
SEVERITY = Severity.ERROR
COMPILE = "refuses"
COMPILE_NOTE = "milestones outside the range; it warns about milestones out of order, which SparseML ran"


def check(ctx: LintContext) -> Iterator[Finding]:
    for modifier in ctx.recipe.modifiers:
        for span, message in refusals.milestones(modifier):
            yield Finding(span, message)
