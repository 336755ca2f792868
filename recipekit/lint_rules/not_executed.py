"""A modifier the recipekit runtime will not execute.

`recipekit compile` records such a modifier in the plan (C410) and `attach` warns about
it, but the training run does less than the recipe says: per-layer distillation, layer
pruning or thinning, parameter setting, RigL and Top-KAST are not simulated. Add what the modifier did yourself, or
remove it; `recipekit compile --strict` and `attach(strict=True)` refuse such plans.

Bad:

```yaml
modifiers:
  - !EpochRangeModifier
    start_epoch: 0.0
    end_epoch: 10.0
  - !SetParamModifier
    params: ["classifier.bias"]
    val: [0.0]
    start_epoch: 0.0
```

Good:

```yaml
modifiers:
  - !EpochRangeModifier
    start_epoch: 0.0
    end_epoch: 10.0
```
"""

from __future__ import annotations

from collections.abc import Iterator

from recipekit.diagnostics import Severity
from recipekit.lint_rules._context import Finding, LintContext
from recipekit.plan.not_executed import reason_not_executed

CODE = "L364"
NAME = "not-executed"
SEVERITY = Severity.INFO


def check(ctx: LintContext) -> Iterator[Finding]:
    for modifier in ctx.recipe.modifiers:
        reason = reason_not_executed(modifier.type)
        if reason is not None:
            message = (
                f"the recipekit runtime will not execute {modifier.type}: {reason}. "
                "The plan records it (C410); `recipekit compile --strict` and `attach(strict=True)` refuse it"
            )
            yield Finding(modifier.span, message)
