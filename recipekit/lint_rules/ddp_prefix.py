"""Parameter names that differ from the model's by a `module.` prefix.

Under DataParallel/DistributedDataParallel every name gains a `module.` prefix,
and SparseML matched recipe names against the wrapped model: a recipe written
for the bare model matches nothing, and the reverse. Write names as the
manifest has them (recipekit's runtime accepts both).

Parameters: module.fc.weight [8, 8] Linear, module.fc.bias [8] Linear

Bad:

```yaml
modifiers:
  - !TrainableParamsModifier
    params: [fc.weight]
    trainable: false
```

Good:

```yaml
modifiers:
  - !TrainableParamsModifier
    params: [module.fc.weight]
    trainable: false
```
"""

from __future__ import annotations

from collections.abc import Iterator

from recipekit.diagnostics import Severity
from recipekit.lint_rules._context import Finding, LintContext

CODE = "L325"
NAME = "ddp-prefix"
SEVERITY = Severity.WARNING


def check(ctx: LintContext) -> Iterator[Finding]:
    if ctx.params is None:
        return
    names = {p["name"] for p in ctx.params}
    for modifier in ctx.recipe.modifiers:
        if "params" not in modifier.params:
            continue
        for pattern in ctx.patterns(modifier):
            if pattern.startswith("re:") or pattern.startswith("__") or pattern in names:
                continue
            other = pattern.removeprefix("module.") if pattern.startswith("module.") else "module." + pattern
            if other in names:
                yield Finding(
                    ctx.span_of(modifier, "params"),
                    f"{pattern!r} is {other!r} in the model: a DistributedDataParallel `module.` prefix differs",
                )
