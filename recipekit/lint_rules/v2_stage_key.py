"""A v2 top-level key that holds modifier groups but does not end in `_stage`.

llm-compressor reads only top-level keys ending in `_stage` (SparseML 1.8 keeps
any other key as a recipe variable): a misspelled stage key makes the whole
stage disappear, and the recipe loads with zero modifiers and no error.

Bad:

```yaml
sparsity_stag:
  pruning_modifiers:
    SparseGPTModifier:
      sparsity: 0.5
      targets: ["re:.*layers.0$"]
```

Good:

```yaml
sparsity_stage:
  pruning_modifiers:
    SparseGPTModifier:
      sparsity: 0.5
      targets: ["re:.*layers.0$"]
```
"""

from __future__ import annotations

from collections.abc import Iterator

from recipekit.compiler.v2.structure import is_group_key, is_stage_key
from recipekit.diagnostics import Severity
from recipekit.lint_rules import _v2
from recipekit.lint_rules._context import Finding, LintContext

CODE = "L370"
NAME = "v2-stage-key"
SEVERITY = Severity.ERROR
COMPILE = "—"
COMPILE_NOTE = "a v2 recipe has no plan: `recipekit compile` refuses every v2 recipe (C415)"


def check(ctx: LintContext) -> Iterator[Finding]:
    for recipe in _v2.recipes(ctx):
        for key, value in recipe.root.entries:
            if is_stage_key(key) or is_group_key(key) or not _v2.holds_groups(value):
                continue
            name = _v2.suggestion(key.text, "stage") if _v2.looks_like(key.text, "stage") else key.text + "_stage"
            yield Finding(
                key.span,
                f"{key.text!r} holds modifier groups but does not end in '_stage': llm-compressor skips it without a word "
                f"(and SparseML reads it as a variable), so none of its modifiers run. Rename it, e.g. to {name!r}",
            )
