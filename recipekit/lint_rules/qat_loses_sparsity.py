"""QAT on pruned weights whose masks are not held through QAT.

Quantization-aware training keeps updating every weight. Unless the pruning
masks stay enforced from QAT start to the end of training (a pruner with
`leave_enabled: true`, or a ConstantPruningModifier covering the same
parameters from QAT start on), the zeros are trained away and the model is no
longer sparse (sparseml PR #2281, llm-compressor #1051).

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
  - !QuantizationModifier
    start_epoch: 15.0
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
    leave_enabled: false
  - !ConstantPruningModifier
    params: ["re:.*weight"]
    start_epoch: 10.0
  - !QuantizationModifier
    start_epoch: 15.0
```
"""

from __future__ import annotations

from collections.abc import Iterator

from recipekit.diagnostics import Severity
from recipekit.lint_rules._context import GRADUAL_PRUNERS, Finding, LintContext

CODE = "L332"
NAME = "qat-loses-sparsity"
SEVERITY = Severity.ERROR


def _holds(
    ctx: LintContext, holder_patterns: set[str], holder_names: set[str] | None, pruned: set[str], pruned_names: set[str] | None
) -> bool:
    if holder_names is not None and pruned_names is not None:
        return pruned_names <= holder_names
    return "__ALL__" in holder_patterns or pruned <= holder_patterns


def check(ctx: LintContext) -> Iterator[Finding]:
    quantizers = ctx.of_type("QuantizationModifier")
    if not quantizers:
        return
    qat = quantizers[0]
    qat_start = max(float(qat.value("start_epoch")), 0.0)
    for pruner in ctx.of_type(*GRADUAL_PRUNERS):
        if pruner.value("leave_enabled") or pruner.value("start_epoch") >= qat_start:
            continue
        pruned, pruned_names = set(ctx.patterns(pruner)), ctx.matched(pruner)
        held = False
        for holder in ctx.of_type("ConstantPruningModifier"):
            start, end = max(holder.value("start_epoch"), 0.0), holder.value("end_epoch")
            if start <= qat_start and end == -1 and _holds(ctx, set(ctx.patterns(holder)), ctx.matched(holder), pruned, pruned_names):
                held = True
        if not held:
            message = (
                f"QAT starts at epoch {qat_start} but the masks of the pruner at line {ctx.source.line_col(pruner.span.start)[0]} are "
                "not held through it: sparsity will be lost. Hold them with leave_enabled: true or a ConstantPruningModifier"
            )
            yield Finding(qat.span, message, (("the pruning modifier", pruner.span),))
