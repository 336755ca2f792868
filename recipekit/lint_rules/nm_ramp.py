"""An N:M mask with a gradual sparsity ramp.

An N:M mask (`2:4`, `tensorrt`) keeps N of every M weights, so its sparsity is
exactly 1 - N/M. SparseML fails at the first update whose target differs, so
init_sparsity and final_sparsity must both be 1 - N/M.

Bad:

```yaml
modifiers:
  - !GMPruningModifier
    params: ["re:.*weight"]
    init_sparsity: 0.05
    final_sparsity: 0.5
    start_epoch: 0.0
    end_epoch: 10.0
    update_frequency: 1.0
    mask_type: "2:4"
```

Good:

```yaml
modifiers:
  - !GMPruningModifier
    params: ["re:.*weight"]
    init_sparsity: 0.5
    final_sparsity: 0.5
    start_epoch: 0.0
    end_epoch: 10.0
    update_frequency: 1.0
    mask_type: "2:4"
```
"""

from __future__ import annotations

from collections.abc import Iterator

from recipekit.compiler import refusals
from recipekit.diagnostics import Severity
from recipekit.lint_rules._context import Finding, LintContext

# One check, two commands: `recipekit compile` refuses with this code too (compiler/refusals.py).
CODE = refusals.NM_RAMP
NAME = refusals.NAMES[CODE]
SEVERITY = Severity.ERROR
COMPILE = "refuses"


def check(ctx: LintContext) -> Iterator[Finding]:
    for modifier in ctx.recipe.modifiers:
        for span, message in refusals.nm_ramp(modifier):
            yield Finding(span, message)
