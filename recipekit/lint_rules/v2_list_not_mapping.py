"""A v2 stage or modifier group written as a list, as in v1 recipes.

In v2 a stage and a `*_modifiers` group are mappings keyed by name (`GPTQModifier:`),
not lists (`- GPTQModifier:`).  llm-compressor skips a list without a word, so the
recipe loads with zero modifiers; SparseML 1.8 fails on it.

Bad:

```yaml
sparsity_stage:
  pruning_modifiers:
    - SparseGPTModifier:
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
from recipekit.compiler.yaml_tree import Map, Seq
from recipekit.diagnostics import Severity
from recipekit.lint_rules import _v2
from recipekit.lint_rules._context import Finding, LintContext

CODE = "L373"
NAME = "v2-list-not-mapping"
SEVERITY = Severity.ERROR
COMPILE = "—"
COMPILE_NOTE = "a v2 recipe has no plan: `recipekit compile` refuses every v2 recipe (C415)"


def check(ctx: LintContext) -> Iterator[Finding]:
    for recipe in _v2.recipes(ctx):
        places = list(recipe.root.entries)
        for _, stage in _v2.stages(recipe.root):
            places += stage.entries
        for key, value in places:
            if not isinstance(value, Seq) or not (is_stage_key(key) or is_group_key(key)):
                continue
            what = "stage" if is_stage_key(key) else "modifier group"
            first = value.items[0] if value.items else value
            dash = f"; drop the `-` before each modifier (`{_name(first)}:` directly under {key.text!r})" if isinstance(first, Map) else ""
            yield Finding(
                value.span,
                f"the {what} {key.text!r} is a list: v2 wants a mapping keyed by name. llm-compressor skips it without a word "
                f"(zero modifiers) and SparseML 1.8 fails on it{dash}",
            )


def _name(item: Map) -> str:
    return item.entries[0][0].text if item.entries else "Modifier"
