"""A key SparseML deletes before reading the modifier.

`log_types` was removed from the modifiers years ago; SparseML drops it
silently for old recipes. It has no effect; remove it.

Bad:

```yaml
modifiers:
  - !SetLearningRateModifier
    learning_rate: 0.01
    start_epoch: 0.0
    log_types: __ALL__
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

from recipekit.compiler.yaml_tree import Map
from recipekit.diagnostics import Severity
from recipekit.lint_rules._context import Finding, LintContext, walk
from recipekit.lint_rules._helpers import delete_key

CODE = "L363"
NAME = "stripped-key"
SEVERITY = Severity.INFO


def check(ctx: LintContext) -> Iterator[Finding]:
    tagged = {m.span.start for m in ctx.recipe.modifiers if m.stripped}
    if not tagged:
        return
    for node in walk(ctx.tree):
        if isinstance(node, Map) and node.tag_span is not None and node.tag_span.start in tagged:
            for key, value in node.entries:
                if key.value == "log_types":
                    edits = delete_key(ctx.source, key.span, value.span)
                    yield Finding(key.span, "SparseML ignores log_types; remove it", fix=("remove log_types", edits) if edits else None)
