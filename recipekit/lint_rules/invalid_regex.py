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

import re
from collections.abc import Iterator

from recipekit.diagnostics import Severity
from recipekit.lint_rules._context import Finding, LintContext

CODE = "L321"
NAME = "invalid-regex"
SEVERITY = Severity.ERROR


def check(ctx: LintContext) -> Iterator[Finding]:
    for modifier in ctx.recipe.modifiers:
        if "params" not in modifier.params:
            continue
        for pattern in ctx.patterns(modifier):
            if not pattern.startswith("re:"):
                continue
            try:
                re.compile(pattern[3:])
            except re.error as error:
                span = ctx.source.item_span(ctx.span_of(modifier, "params"), pattern)
                yield Finding(span, f"invalid regular expression {pattern!r}: {error}")
