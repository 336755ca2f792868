"""A quoted number where SparseML expects a number.

SparseML converts strings with `float()` in a few parameters (epochs, learning
rates, `damp`), so `start_epoch: "2"` works there and nowhere else; copied to
another field it breaks. Write numbers unquoted.

Bad:

```yaml
modifiers:
  - !SetLearningRateModifier
    learning_rate: "0.01"
    start_epoch: 0.0
```

Good:

```yaml
modifiers:
  - !SetLearningRateModifier
    learning_rate: 0.01
    start_epoch: 0.0
```
"""

from __future__ import annotations

from collections.abc import Iterator

from recipekit.diagnostics import Severity
from recipekit.lint_rules._context import Finding, LintContext, TextEdit

CODE = "L362"
NAME = "coerced-string"
SEVERITY = Severity.WARNING


def check(ctx: LintContext) -> Iterator[Finding]:
    text = ctx.source.text
    for modifier in ctx.recipe.modifiers:
        for name, param in modifier.params.items():
            if param.coerced_from is None or param.span is None or param.expression is not None:
                continue
            raw = text[param.span.start : param.span.end]
            if raw[:1] not in ("'", '"') or raw[1:-1] != param.coerced_from:
                continue  # an unquoted 1e-3 is yaml11-value's
            fix = (f"write {param.coerced_from} unquoted", (TextEdit(param.span, param.coerced_from),))
            yield Finding(param.span, f"{name} is the string {raw}; SparseML converts it here, but write the number unquoted", fix=fix)
