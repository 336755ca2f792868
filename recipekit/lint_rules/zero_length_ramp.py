"""A ramp whose start_epoch equals its end_epoch.

Gradual pruners interpolate over `end_epoch - start_epoch` and SparseML divides
by zero at the first update, hours into training. A LearningRateFunctionModifier
with an empty range is refused at load. Give the ramp at least one update, or
use a constant modifier.

Bad:

```yaml
modifiers:
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

from recipekit.diagnostics import Severity
from recipekit.lint_rules._context import GRADUAL_PRUNERS, Finding, LintContext

CODE = "L302"
NAME = "zero-length-ramp"
SEVERITY = Severity.ERROR


def check(ctx: LintContext) -> Iterator[Finding]:
    for modifier in ctx.of_type(*GRADUAL_PRUNERS, "LearningRateFunctionModifier"):
        start, end = modifier.value("start_epoch"), modifier.value("end_epoch")
        if start == end:
            what = "SparseML divides by zero at the first update" if modifier.type in GRADUAL_PRUNERS else "SparseML refuses an empty range"
            yield Finding(ctx.span_of(modifier, "end_epoch"), f"start_epoch and end_epoch are both {end}: {what}")
