"""leave_enabled: false while training goes on after end_epoch.

With leave_enabled false the masks are removed at end_epoch; the very next
optimizer step's momentum and weight decay move the pruned weights off zero and
the sparsity is gone (SparseML measured 0.706 to 0.0 in one step). Keep
leave_enabled: true, or hold the mask with a ConstantPruningModifier.

Bad:

```yaml
modifiers:
  - !EpochRangeModifier
    start_epoch: 0.0
    end_epoch: 20.0
  - !GMPruningModifier
    params: ["re:.*weight"]
    init_sparsity: 0.05
    final_sparsity: 0.8
    start_epoch: 0.0
    end_epoch: 10.0
    update_frequency: 1.0
    leave_enabled: false
```

Good:

```yaml
modifiers:
  - !EpochRangeModifier
    start_epoch: 0.0
    end_epoch: 20.0
  - !GMPruningModifier
    params: ["re:.*weight"]
    init_sparsity: 0.05
    final_sparsity: 0.8
    start_epoch: 0.0
    end_epoch: 10.0
    update_frequency: 1.0
    leave_enabled: true
```
"""

from __future__ import annotations

from collections.abc import Iterator

from recipekit.diagnostics import Severity
from recipekit.lint_rules._context import GRADUAL_PRUNERS, Finding, LintContext

CODE = "L318"
NAME = "released-mask"
SEVERITY = Severity.WARNING


def check(ctx: LintContext) -> Iterator[Finding]:
    end_of_training = ctx.training_end
    holders = ctx.of_type("ConstantPruningModifier")
    quantizers = ctx.of_type("QuantizationModifier")
    for modifier in ctx.of_type(*GRADUAL_PRUNERS):
        end = modifier.value("end_epoch")
        if modifier.value("leave_enabled") or end < 0 or end_of_training is None or end >= end_of_training:
            continue
        if any(q.value("start_epoch") > modifier.value("start_epoch") for q in quantizers):
            continue  # qat-loses-sparsity reports it, with QAT as the reason
        held = any(
            h.value("start_epoch") <= end and (h.value("end_epoch") == -1 or h.value("end_epoch") >= end_of_training) for h in holders
        )
        if not held:
            message = (
                f"leave_enabled: false releases the masks at epoch {end}, but training runs to {end_of_training}: the pruned weights regrow"
            )
            yield Finding(ctx.span_of(modifier, "leave_enabled"), message)
