"""lr_kwargs that the LR scheduler class does not take, or lacks.

StepLR takes `step_size` and `gamma`, MultiStepLR `milestones` and `gamma`,
ExponentialLR `gamma`, CosineAnnealingWarmRestarts `lr_min` and
`cycle_epochs` (all in epochs). `step:` instead of `step_size:` was a classic:
SparseML reported it as an unrelated AttributeError in another modifier
(sparseml#149).

Bad:

```yaml
modifiers:
  - !LearningRateModifier
    lr_class: StepLR
    lr_kwargs: {step: 10, gamma: 0.1}
    init_lr: 0.1
    start_epoch: 0.0
```

Good:

```yaml
modifiers:
  - !LearningRateModifier
    lr_class: StepLR
    lr_kwargs: {step_size: 10, gamma: 0.1}
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
CODE = refusals.LR_KWARGS
NAME = refusals.NAMES[CODE]
SEVERITY = Severity.ERROR
COMPILE = "refuses"


def check(ctx: LintContext) -> Iterator[Finding]:
    for modifier in ctx.recipe.modifiers:
        for span, message in refusals.lr_kwargs(modifier):
            yield Finding(span, message)
