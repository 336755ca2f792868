"""QAT starts while a pruner is still ramping sparsity.

Quantization statistics settle on weights that the pruner keeps removing;
accuracy recovers worse than when pruning finishes first. Start QAT at or after
the last pruning end_epoch.

Bad:

```yaml
modifiers:
  - !EpochRangeModifier
    start_epoch: 0.0
    end_epoch: 12.0
  - !GMPruningModifier
    params: ["re:.*weight"]
    init_sparsity: 0.05
    final_sparsity: 0.8
    start_epoch: 0.0
    end_epoch: 10.0
    update_frequency: 1.0
  - !QuantizationModifier
    start_epoch: 8.0
```

Good:

```yaml
modifiers:
  - !EpochRangeModifier
    start_epoch: 0.0
    end_epoch: 12.0
  - !GMPruningModifier
    params: ["re:.*weight"]
    init_sparsity: 0.05
    final_sparsity: 0.8
    start_epoch: 0.0
    end_epoch: 10.0
    update_frequency: 1.0
  - !QuantizationModifier
    start_epoch: 10.0
```
"""

from __future__ import annotations

from collections.abc import Iterator

from recipekit.diagnostics import Severity
from recipekit.lint_rules._context import GRADUAL_PRUNERS, Finding, LintContext

CODE = "L333"
NAME = "qat-during-ramp"
SEVERITY = Severity.WARNING


def check(ctx: LintContext) -> Iterator[Finding]:
    for qat in ctx.of_type("QuantizationModifier"):
        start = max(float(qat.value("start_epoch")), 0.0)
        ramping = [p for p in ctx.of_type(*GRADUAL_PRUNERS) if max(p.value("start_epoch"), 0.0) <= start < p.value("end_epoch")]
        if ramping:
            # One finding per QAT start, however many per-layer pruners a recipe lists.
            until = max(p.value("end_epoch") for p in ramping)
            who = "a pruner still ramps" if len(ramping) == 1 else f"{len(ramping)} pruners still ramp"
            message = f"QAT starts at epoch {start} while {who} sparsity until epoch {until}; start QAT after pruning ends"
            yield Finding(ctx.span_of(qat, "start_epoch"), message, (("the first ramping pruner", ramping[0].span),))
