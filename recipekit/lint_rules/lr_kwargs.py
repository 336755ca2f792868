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

from recipekit.diagnostics import Severity
from recipekit.lint_rules._context import Finding, LintContext
from recipekit.suggest import did_you_mean

CODE = "L340"
NAME = "lr-kwargs"
SEVERITY = Severity.ERROR
KWARGS = {
    "StepLR": ("step_size", "gamma"),
    "MultiStepLR": ("milestones", "gamma"),
    "ExponentialLR": ("gamma",),
    "CosineAnnealingWarmRestarts": ("lr_min", "cycle_epochs"),
}


def check(ctx: LintContext) -> Iterator[Finding]:
    for modifier in ctx.of_type("LearningRateModifier"):
        lr_class = modifier.value("lr_class")
        expected = KWARGS[lr_class]
        given = modifier.value("lr_kwargs")
        span = ctx.span_of(modifier, "lr_kwargs")
        for key in given:
            if key not in expected:
                yield Finding(span, f"{lr_class} does not take {key!r}{did_you_mean(key, expected)}")
        missing = [k for k in expected if k not in given]
        if missing:
            yield Finding(span, f"{lr_class} needs {' and '.join(missing)} in lr_kwargs")
