"""The same modifier written twice in one v2 group: only the last one runs.

A group is a mapping keyed by class name, and both libraries load YAML with a
loader that keeps the last of two equal keys: the first modifier is dropped
without a word (llm-compressor #1231).  To run a modifier twice, put the second
one in another group or stage.

Bad:

```yaml
sparsity_stage:
  pruning_modifiers:
    SparseGPTModifier:
      sparsity: 0.5
      targets: ["re:.*layers.0$"]
    SparseGPTModifier:
      sparsity: 0.7
      targets: ["re:.*layers.1$"]
```

Good:

```yaml
sparsity_stage:
  first_modifiers:
    SparseGPTModifier:
      sparsity: 0.5
      targets: ["re:.*layers.0$"]
  second_modifiers:
    SparseGPTModifier:
      sparsity: 0.7
      targets: ["re:.*layers.1$"]
```
"""

from __future__ import annotations

from collections.abc import Iterator

from recipekit.compiler.v2.duplicates import duplicate_modifiers
from recipekit.diagnostics import Severity
from recipekit.lint_rules._context import Finding, LintContext

CODE = "L374"
NAME = "v2-duplicate-modifier"
SEVERITY = Severity.ERROR
COMPILE = "—"
COMPILE_NOTE = "a v2 recipe has no plan: `recipekit compile` refuses every v2 recipe (C415)"


def check(ctx: LintContext) -> Iterator[Finding]:
    for recipe, source in ctx.v2:
        by_span = {m.key.span: m for m in recipe.modifiers}
        for kept, dropped in duplicate_modifiers(recipe, source):
            modifier = by_span[kept]
            yield Finding(
                kept,
                f"{modifier.type} is written twice in group {modifier.group_key.text!r}: only this last one is loaded, the "
                "first is dropped without a word. Move one of them to another `*_modifiers` group or stage",
                related=(("the dropped one", dropped),),
            )
