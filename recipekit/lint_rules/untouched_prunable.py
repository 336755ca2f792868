"""Prunable weights that no pruning modifier touches.

A summary, with a parameter manifest: Linear and Conv weights the recipe leaves
dense (embeddings are left out: see prunable-includes-embedding). Often intended
(first and last layers), sometimes a layer the pattern list forgot.

Parameters: conv1.weight [8, 3, 3, 3] Conv2d, conv2.weight [8, 8, 3, 3] Conv2d, fc.weight [10, 8] Linear

Bad:

```yaml
modifiers:
  - !GMPruningModifier
    params: [conv1.weight, conv2.weight]
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
    params: [conv1.weight, conv2.weight, fc.weight]
    init_sparsity: 0.05
    final_sparsity: 0.8
    start_epoch: 0.0
    end_epoch: 10.0
    update_frequency: 1.0
```
"""

from __future__ import annotations

from collections.abc import Iterator

from recipekit.diagnostics import Severity
from recipekit.lint_rules._context import PRUNERS, Finding, LintContext
from recipekit.plan import selectors as param_match

CODE = "L326"
NAME = "untouched-prunable"
SEVERITY = Severity.INFO


def check(ctx: LintContext) -> Iterator[Finding]:
    pruners = ctx.of_type(*PRUNERS)
    if ctx.params is None or not pruners:
        return
    touched: set[str] = set()
    for modifier in pruners:
        touched |= ctx.matched(modifier) or set()
    untouched = [
        p["name"] for p in ctx.params if param_match.is_prunable(p) and p.get("module_type") != "Embedding" and p["name"] not in touched
    ]
    if untouched:
        shown = ", ".join(untouched[:3]) + (f" and {len(untouched) - 3} more" if len(untouched) > 3 else "")
        yield Finding(pruners[0].span, f"{len(untouched)} prunable weight(s) are not pruned: {shown}")
