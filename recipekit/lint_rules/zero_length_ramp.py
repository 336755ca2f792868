"""A ramp whose start_epoch equals its end_epoch.

Gradual pruners interpolate over `end_epoch - start_epoch` and SparseML divides
by zero at the first update, hours into training. A LearningRateFunctionModifier
with an empty range is refused at load. Give the ramp at least one update, or
use a constant modifier.

Bad:

```yaml
modifiers:
  - !EpochRangeModifier
    start_epoch: 0.0
    end_epoch: 10.0
  - !GMPruningModifier
    params: ["re:.*weight"]
    init_sparsity: 0.05
    final_sparsity: 0.8
    start_epoch: 5.0
    end_epoch: 5.0
    update_frequency: 1.0
```

Good:

```yaml
modifiers:
  - !EpochRangeModifier
    start_epoch: 0.0
    end_epoch: 10.0
  - !GMPruningModifier
    params: ["re:.*weight"]
    init_sparsity: 0.05
    final_sparsity: 0.8
    start_epoch: 5.0
    end_epoch: 6.0
    update_frequency: 0.5
```
"""

from __future__ import annotations

from collections.abc import Iterator

from recipekit.compiler import refusals
from recipekit.diagnostics import Severity
from recipekit.lint_rules._context import Finding, LintContext

# One check, two commands: `recipekit compile` refuses with this code too (compiler/refusals.py).
CODE = refusals.ZERO_LENGTH_RAMP
NAME = refusals.NAMES[CODE]
SEVERITY = Severity.ERROR
COMPILE = "refuses"
COMPILE_NOTE = "when the ramp updates at all; one that starts after training ends never crashed SparseML"


def check(ctx: LintContext) -> Iterator[Finding]:
    for modifier in ctx.recipe.modifiers:
        for span, message in refusals.zero_length_ramp(modifier):
            yield Finding(span, message)
