"""QAT on pruned weights whose masks are not held through QAT.

Quantization-aware training keeps updating every weight. Unless the pruning
masks stay enforced from QAT start to the end of training (a pruner with
`leave_enabled: true`, or a ConstantPruningModifier covering the same
parameters from QAT start on), the zeros are trained away and the model is no
longer sparse (sparseml PR #2281, llm-compressor #1051). SparseML ran such a
recipe without a word; `recipekit compile` compiles it the same way and warns.

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

from recipekit.compiler import traps
from recipekit.diagnostics import Severity
from recipekit.lint_rules._context import Finding, LintContext

# One check, two commands: `recipekit compile` warns with this code (compiler/traps.py).
CODE = traps.QAT_LOSES_SPARSITY
NAME = traps.NAMES[CODE]
SEVERITY = Severity.ERROR
COMPILE = "warns"


def check(ctx: LintContext) -> Iterator[Finding]:
    problems = traps.qat_loses_sparsity(ctx.recipe.modifiers, ctx.source, ctx.matched)
    for (span, message), (_, pruner) in zip(problems, traps.unheld_pruners(ctx.recipe.modifiers, ctx.matched), strict=True):
        yield Finding(span, message, (("the pruning modifier", pruner.span),))
