"""A v2 `*_modifiers` group at the top level, outside any stage.

llm-compressor reads modifier groups only inside a `*_stage` key and skips a
top-level group without a word: the recipe loads with zero modifiers.  (SparseML
1.8 read it as a `default` stage; a recipe that only SparseML accepts is not
reported.)

Bad:

```yaml
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

from recipekit.compiler.v2.structure import is_group_key
from recipekit.compiler.yaml_tree import Map
from recipekit.diagnostics import Severity
from recipekit.lint_rules import _v2
from recipekit.lint_rules._context import Finding, LintContext

CODE = "L372"
NAME = "v2-modifiers-outside-stage"
SEVERITY = Severity.ERROR
COMPILE = "—"
COMPILE_NOTE = "a v2 recipe has no plan: `recipekit compile` refuses every v2 recipe (C415)"


def check(ctx: LintContext) -> Iterator[Finding]:
    for recipe in _v2.recipes(ctx):
        if recipe.dialect == "sparseml":
            continue
        for key, value in recipe.root.entries:
            if is_group_key(key) and isinstance(value, Map):
                yield Finding(
                    key.span,
                    f"{key.text!r} is outside any stage: llm-compressor skips top-level modifier groups without a word "
                    f"(only SparseML 1.8 read them). Put it under a stage, e.g. `my_stage:` → `{key.text}:`",
                )
