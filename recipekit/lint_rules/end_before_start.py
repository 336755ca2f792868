"""A modifier's end_epoch is before its start_epoch.

SparseML refuses such a modifier when it loads the recipe (`end_epoch ... must be
greater than or equal to start_epoch`), so training never starts. -1 is not an
epoch here: it means "never ends".

Bad:

```yaml
modifiers:
  - !GMPruningModifier
    params: ["re:.*weight"]
    init_sparsity: 0.05
    final_sparsity: 0.8
    start_epoch: 10.0
    end_epoch: 5.0
    update_frequency: 1.0
```

Good:

```yaml
modifiers:
  - !GMPruningModifier
    params: ["re:.*weight"]
    init_sparsity: 0.05
    final_sparsity: 0.8
    start_epoch: 5.0
    end_epoch: 10.0
    update_frequency: 1.0
```
"""

from __future__ import annotations

from collections.abc import Iterator

from recipekit.compiler import refusals
from recipekit.diagnostics import Severity
from recipekit.lint_rules._context import Finding, LintContext

# One check, two commands: `recipekit compile` refuses with this code too (compiler/refusals.py).
CODE = refusals.END_BEFORE_START
NAME = refusals.NAMES[CODE]
SEVERITY = Severity.ERROR
COMPILE = "refuses"


def check(ctx: LintContext) -> Iterator[Finding]:
    for modifier in ctx.recipe.modifiers:
        for span, message in refusals.end_before_start(modifier):
            related = (("start_epoch is set here", ctx.span_of(modifier, "start_epoch")),)
            yield Finding(span, message, related)
