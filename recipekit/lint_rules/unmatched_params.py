"""A `params` entry that matches no parameter of the model.

SparseML only finds out when training starts ("All supplied parameter names or
regex patterns not found"). With a parameter manifest (`--params`) recipe-lint
checks every entry now. Exact names must match exactly; `re:` patterns match at
the start of the name.

Parameters: features.0.weight [8, 3, 3, 3] Conv2d, classifier.weight [10, 8] Linear

Bad:

```yaml
modifiers:
  - !GMPruningModifier
    params: [features.0.weight, classifier.weight, classifier.weights]
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
    params: [features.0.weight, classifier.weight]
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
from recipekit.plan import selectors as param_match

CODE = "L320"
NAME = "unmatched-params"
SEVERITY = Severity.ERROR
COMPILE = "—"
COMPILE_NOTE = "it needs the model: SparseML refused it at initialize, and `recipekit expand --params` and `attach` refuse it"


def _ddp_variant(name: str) -> str:
    return name.removeprefix("module.") if name.startswith("module.") else "module." + name


def check(ctx: LintContext) -> Iterator[Finding]:
    if ctx.params is None:
        return
    names = [p["name"] for p in ctx.params]
    for modifier in ctx.recipe.modifiers:
        if "params" not in modifier.params or not modifier.params["params"].given:
            continue
        for pattern in ctx.patterns(modifier):
            if pattern.startswith("re:"):
                try:
                    re.compile(pattern[3:])
                except re.error:
                    continue  # reported by invalid-regex
            if param_match.match_pattern(pattern, ctx.params):
                continue
            if not pattern.startswith(("re:", "__")) and _ddp_variant(pattern) in names:
                continue  # reported by ddp-prefix
            # One wording with `recipekit expand` and `attach`: the closest names, or the known prefix that would match.
            hint = param_match.unmatched_hint(pattern, names)
            span = ctx.source.item_span(ctx.span_of(modifier, "params"), pattern)
            yield Finding(span, f"{pattern!r} matches no parameter of the model{hint}")
