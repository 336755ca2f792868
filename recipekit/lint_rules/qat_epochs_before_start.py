"""Observer-disable or BN-freeze epoch before QAT starts.

SparseML refuses the recipe at load (with a message that says "greater than"
where it means "less than"). Observers can only be disabled and BatchNorm
statistics frozen once quantization-aware training has started.

Bad:

```yaml
modifiers:
  - !EpochRangeModifier
    start_epoch: 0.0
    end_epoch: 10.0
  - !QuantizationModifier
    start_epoch: 5.0
    disable_quantization_observer_epoch: 3.0
```

Good:

```yaml
modifiers:
  - !EpochRangeModifier
    start_epoch: 0.0
    end_epoch: 10.0
  - !QuantizationModifier
    start_epoch: 5.0
    disable_quantization_observer_epoch: 8.0
```
"""

from __future__ import annotations

from collections.abc import Iterator

from recipekit.compiler import refusals
from recipekit.diagnostics import Severity
from recipekit.lint_rules._context import Finding, LintContext

# One check, two commands: `recipekit compile` refuses with this code too (compiler/refusals.py).
CODE = refusals.QAT_EPOCHS_BEFORE_START
NAME = refusals.NAMES[CODE]
SEVERITY = Severity.ERROR
COMPILE = "refuses"


def check(ctx: LintContext) -> Iterator[Finding]:
    for modifier in ctx.recipe.modifiers:
        for span, message in refusals.qat_epochs_before_start(modifier):
            yield Finding(span, message)
