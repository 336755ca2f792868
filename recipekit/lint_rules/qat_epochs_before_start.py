"""Observer-disable or BN-freeze epoch before QAT starts.

SparseML refuses the recipe at load (with a message that says "greater than"
where it means "less than"). Observers can only be disabled and BatchNorm
statistics frozen once quantization-aware training has started.

Bad:

```yaml
modifiers:
  - !QuantizationModifier
    start_epoch: 5.0
    disable_quantization_observer_epoch: 3.0
```

Good:

```yaml
modifiers:
  - !QuantizationModifier
    start_epoch: 5.0
    disable_quantization_observer_epoch: 8.0
```
"""

from __future__ import annotations

from collections.abc import Iterator

from recipekit.diagnostics import Severity
from recipekit.lint_rules._context import Finding, LintContext

CODE = "L331"
NAME = "qat-epochs-before-start"
SEVERITY = Severity.ERROR


def check(ctx: LintContext) -> Iterator[Finding]:
    for modifier in ctx.of_type("QuantizationModifier"):
        start = modifier.value("start_epoch")
        if start == -1:
            continue
        for name in ("disable_quantization_observer_epoch", "freeze_bn_stats_epoch"):
            value = modifier.value(name)
            if value is not None and value < start:
                yield Finding(ctx.span_of(modifier, name), f"{name} {value} is before QAT starts at epoch {start}")
