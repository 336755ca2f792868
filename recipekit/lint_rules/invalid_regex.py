"""A `re:` pattern that is not a valid regular expression.

SparseML compiles the pattern only when training starts and stops with a
Python `re.error`. Escape regex metacharacters such as `(`, `[` and `+`.

Bad:

```yaml
modifiers:
  - !GMPruningModifier
    params: ["re:layer.(0|1.weight"]
    init_sparsity: 0.05
    final_sparsity: 0.8
    start_epoch: 0.0
    end_epoch: 10.0
    update_frequency: 1.0
```

Good:

```yaml
modifiers:
  - !GMPruningModifier
    params: ["re:layer\\\\.(0|1)\\\\.weight"]
    init_sparsity: 0.05
    final_sparsity: 0.8
    start_epoch: 0.0
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
CODE = refusals.INVALID_REGEX
NAME = refusals.NAMES[CODE]
SEVERITY = Severity.ERROR
COMPILE = "refuses"


def check(ctx: LintContext) -> Iterator[Finding]:
    for modifier in ctx.recipe.modifiers:
        for span, message in refusals.invalid_regex(modifier, ctx.source):
            yield Finding(span, message)
