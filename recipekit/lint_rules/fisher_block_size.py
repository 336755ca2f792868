"""OBS with block4 masks and a fisher_block_size that is not a multiple of 4.

A block4 mask prunes groups of 4 weights together, and OBS scores each group
with a 4x4 block of the Fisher inverse, so the Fisher blocks must hold whole
groups: SparseML raises ValueError when the modifier starts. The oBERT recipes
use 50 with unstructured masks and 32 with block4.

Bad:

```yaml
modifiers:
  - !OBSPruningModifier
    params: ["re:.*weight"]
    init_sparsity: 0.05
    final_sparsity: 0.8
    start_epoch: 1.0
    end_epoch: 5.0
    update_frequency: 1.0
    mask_type: block4
    fisher_block_size: 50
```

Good:

```yaml
modifiers:
  - !OBSPruningModifier
    params: ["re:.*weight"]
    init_sparsity: 0.05
    final_sparsity: 0.8
    start_epoch: 1.0
    end_epoch: 5.0
    update_frequency: 1.0
    mask_type: block4
    fisher_block_size: 32
```
"""

from __future__ import annotations

from collections.abc import Iterator

from recipekit.compiler import refusals
from recipekit.diagnostics import Severity
from recipekit.lint_rules._context import Finding, LintContext

# One check, two commands: `recipekit compile` refuses with this code too (compiler/refusals.py).
CODE = refusals.FISHER_BLOCK_SIZE
NAME = refusals.NAMES[CODE]
SEVERITY = Severity.ERROR
COMPILE = "refuses"


def check(ctx: LintContext) -> Iterator[Finding]:
    for modifier in ctx.recipe.modifiers:
        for span, message in refusals.fisher_block_size(modifier):
            yield Finding(span, message)
