"""update_frequency is longer than the pruning range.

A gradual pruner updates at start_epoch, then every update_frequency epochs,
and at end_epoch. With a frequency longer than the range, the ramp collapses to
a jump from init_sparsity straight to final_sparsity at end_epoch.

Bad:

```yaml
modifiers:
  - !GMPruningModifier
    params: ["re:.*weight"]
    init_sparsity: 0.05
    final_sparsity: 0.8
    start_epoch: 0.0
    end_epoch: 4.0
    update_frequency: 5.0
```

Good:

```yaml
modifiers:
  - !GMPruningModifier
    params: ["re:.*weight"]
    init_sparsity: 0.05
    final_sparsity: 0.8
    start_epoch: 0.0
    end_epoch: 4.0
    update_frequency: 0.5
```
"""

from __future__ import annotations

from collections.abc import Iterator

from recipekit.diagnostics import Severity
from recipekit.lint_rules._context import GRADUAL_PRUNERS, Finding, LintContext

CODE = "L304"
NAME = "update-frequency-exceeds-range"
SEVERITY = Severity.WARNING


def check(ctx: LintContext) -> Iterator[Finding]:
    for modifier in ctx.of_type(*GRADUAL_PRUNERS):
        start, end = modifier.value("start_epoch"), modifier.value("end_epoch")
        frequency = modifier.value("update_frequency")
        if end > start >= -1 and frequency > 0 and frequency >= end - max(start, 0.0):
            message = f"update_frequency {frequency} is not shorter than the ramp ({max(start, 0.0)} to {end}): sparsity jumps at end_epoch"
            yield Finding(ctx.span_of(modifier, "update_frequency"), message)
