"""QAT starts while a pruner is still ramping sparsity.

Quantization statistics settle on weights that the pruner keeps removing;
accuracy recovers worse than when pruning finishes first. Start QAT at or after
the last pruning end_epoch.

Bad:

```yaml
modifiers:
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
from recipekit.findings import GRADUAL_PRUNERS, Finding, LintContext

CODE = "L333"
NAME = "qat-during-ramp"
SEVERITY = Severity.WARNING


def check(ctx: LintContext) -> Iterator[Finding]:
    for qat in ctx.of_type("QuantizationModifier"):
        start = max(float(qat.value("start_epoch")), 0.0)
        for pruner in ctx.of_type(*GRADUAL_PRUNERS):
            p_start, p_end = pruner.value("start_epoch"), pruner.value("end_epoch")
            if max(p_start, 0.0) <= start < p_end:
                message = f"QAT starts at epoch {start} while pruning still ramps until {p_end}; start QAT after pruning ends"
                yield Finding(ctx.span_of(qat, "start_epoch"), message, (("the pruning modifier", pruner.span),))
