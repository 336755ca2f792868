"""OBS with `fisher_block_size` 1: a diagonal Fisher, so pruned weights are not compensated.

SparseML's OBSPruningModifier defaults `fisher_block_size` to 1 (its docstring says 50).
With blocks of one weight the Fisher inverse is diagonal: scores become a magnitude
rescaling and the optimal-brain-surgeon update moves no other weight, which is most of
what OBS is for. The oBERT recipes set 50.

Bad:

```yaml
modifiers:
  - !OBSPruningModifier
    params: ["re:.*weight"]
    init_sparsity: 0.5
    final_sparsity: 0.8
    start_epoch: 1.0
    end_epoch: 3.0
    update_frequency: 1.0
```

Good:

```yaml
modifiers:
  - !OBSPruningModifier
    params: ["re:.*weight"]
    init_sparsity: 0.5
    final_sparsity: 0.8
    start_epoch: 1.0
    end_epoch: 3.0
    update_frequency: 1.0
    fisher_block_size: 50
```
"""

from __future__ import annotations

from collections.abc import Iterator

from recipekit.compiler import traps
from recipekit.diagnostics import Severity
from recipekit.lint_rules._context import Finding, LintContext

# One check, two commands: `recipekit compile` warns with this code too (compiler/traps.py).
CODE = traps.DIAGONAL_FISHER
NAME = traps.NAMES[CODE]
SEVERITY = Severity.WARNING
COMPILE = "warns"


def check(ctx: LintContext) -> Iterator[Finding]:
    for modifier in ctx.recipe.modifiers:
        for span, message in traps.diagonal_fisher(modifier):
            yield Finding(span, message)
