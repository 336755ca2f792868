"""A mask_type the pruning modifier cannot build.

SparseML resolves mask_type only when training starts: `channel` and `filter`
work only for StructuredPruningModifier, and any other unknown name fails with
"Unknown mask_type". Valid types are `unstructured`, `block4`, `N:M` such as
`2:4`, `tensorrt` (2:4), or a block shape `[rows, cols]`.

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
    mask_type: filter
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
    mask_type: block4
```
"""

from __future__ import annotations

from collections.abc import Iterator

from recipekit.compiler import refusals
from recipekit.diagnostics import Severity
from recipekit.lint_rules._context import Finding, LintContext

# One check, two commands: `recipekit compile` refuses with this code too (compiler/refusals.py).
CODE = refusals.BAD_MASK_TYPE
NAME = refusals.NAMES[CODE]
SEVERITY = Severity.ERROR
COMPILE = "refuses"


def check(ctx: LintContext) -> Iterator[Finding]:
    for modifier in ctx.recipe.modifiers:
        for span, message in refusals.bad_mask_type(modifier):
            yield Finding(span, message)
