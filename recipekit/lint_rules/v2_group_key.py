"""A key inside a v2 stage that holds modifiers but does not end in `_modifiers`.

Inside a stage, both libraries read only keys ending in `_modifiers`; any other
key is skipped (llm-compressor) or kept as a stage variable (SparseML), so a
misspelled group key loses its modifiers without an error.

Bad:

```yaml
sparsity_stage:
  pruning_modifier:
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
from recipekit.compiler.yaml_tree import Map, Seq
from recipekit.diagnostics import Severity
from recipekit.lint_rules import _v2
from recipekit.lint_rules._context import Finding, LintContext

CODE = "L371"
NAME = "v2-group-key"
SEVERITY = Severity.ERROR
COMPILE = "—"
COMPILE_NOTE = "a v2 recipe has no plan: `recipekit compile` refuses every v2 recipe (C415)"


def check(ctx: LintContext) -> Iterator[Finding]:
    for recipe in _v2.recipes(ctx):
        for stage_key, stage in _v2.stages(recipe.root):
            for key, value in stage.entries:
                if is_group_key(key):
                    continue
                if not (_v2.holds_modifiers(value) or (_v2.looks_like(key.text, "modifiers") and isinstance(value, (Map, Seq)))):
                    continue
                name = _v2.suggestion(key.text, "modifiers") if _v2.looks_like(key.text, "modifiers") else key.text + "_modifiers"
                yield Finding(
                    key.span,
                    f"{key.text!r} in stage {stage_key.text!r} does not end in '_modifiers': both libraries skip it without a "
                    f"word, so its modifiers never run. Rename it, e.g. to {name!r}",
                )
