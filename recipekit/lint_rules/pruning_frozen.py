"""Pruning a parameter that TrainableParamsModifier freezes.

A frozen parameter gets no gradient, so magnitude pruning removes weights that
can never recover; usually the freeze and the pruning target were meant to be
different layers.

Bad:

```yaml
modifiers:
  - !TrainableParamsModifier
    params: [embeddings.weight]
    trainable: false
    start_epoch: 0.0
  - !GMPruningModifier
    params: [embeddings.weight]
    init_sparsity: 0.05
    final_sparsity: 0.8
    start_epoch: 0.0
    end_epoch: 10.0
    update_frequency: 1.0
```

Good:

```yaml
modifiers:
  - !TrainableParamsModifier
    params: [embeddings.weight]
    trainable: false
    start_epoch: 0.0
  - !GMPruningModifier
    params: [encoder.weight]
    init_sparsity: 0.05
    final_sparsity: 0.8
    start_epoch: 0.0
    end_epoch: 10.0
    update_frequency: 1.0
```
"""

from __future__ import annotations

from collections.abc import Iterator

from recipekit.diagnostics import Severity
from recipekit.lint_rules._context import PRUNERS, Finding, LintContext, epoch_range, overlap

CODE = "L317"
NAME = "pruning-frozen-param"
SEVERITY = Severity.WARNING


def check(ctx: LintContext) -> Iterator[Finding]:
    freezes = [m for m in ctx.of_type("TrainableParamsModifier") if not m.value("trainable")]
    for pruner in ctx.of_type(*PRUNERS):
        for freeze in freezes:
            if not overlap(epoch_range(pruner, ctx.training_end), epoch_range(freeze, ctx.training_end)):
                continue
            shared = ctx.shared(pruner, freeze)
            if shared:
                message = f"{shared[0]} is pruned while TrainableParamsModifier freezes it: pruned weights cannot recover"
                yield Finding(ctx.span_of(pruner, "params"), message, (("frozen here", freeze.span),))
