"""OBS or M-FAC pruning at 1 step per epoch: SparseML never pruned.

SparseML's OBS and M-FAC modifiers take `steps_per_epoch == 1` for a one-shot run and
return early from every pruning step during training, without a word: the model
trains dense. `recipekit compile` keeps no updates for such a plan and warns with this
code. Run with the real number of steps per epoch (`--steps-per-epoch`); this rule only
checks when it is given.

Steps per epoch: 1

Bad:

```yaml
modifiers:
  - !MFACPruningModifier
    params: ["re:.*weight"]
    init_sparsity: 0.5
    final_sparsity: 0.8
    start_epoch: 1.0
    end_epoch: 3.0
    update_frequency: 1.0
    use_gradient_buffering: true
```

Good:

```yaml
modifiers:
  - !GMPruningModifier
    params: ["re:.*weight"]
    init_sparsity: 0.5
    final_sparsity: 0.8
    start_epoch: 1.0
    end_epoch: 3.0
    update_frequency: 1.0
```
"""

from __future__ import annotations

from collections.abc import Iterator

from recipekit.compiler import traps
from recipekit.diagnostics import Severity
from recipekit.lint_rules._context import Finding, LintContext

# One check, two commands: `recipekit compile` warns with this code too (compiler/traps.py).
CODE = traps.SAMPLING_NEVER_PRUNES
NAME = traps.NAMES[CODE]
SEVERITY = Severity.WARNING
COMPILE = "warns"


def check(ctx: LintContext) -> Iterator[Finding]:
    for modifier in ctx.recipe.modifiers:
        for span, message in traps.sampling_never_prunes(modifier, ctx.steps_per_epoch):
            yield Finding(span, message)
