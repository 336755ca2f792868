"""`__ALL_PRUNABLE__` includes Embedding layers.

SparseML's `__ALL_PRUNABLE__` covers Linear, Conv *and Embedding* weights,
though its documentation says "Conv and Linear". Pruning embeddings is
sometimes intended, often not; list the layers if it is not.

Parameters: embed.weight [100, 8] Embedding, fc.weight [8, 8] Linear

Bad:

```yaml
modifiers:
  - !GMPruningModifier
    params: __ALL_PRUNABLE__
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
    params: [fc.weight]
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

CODE = "L324"
NAME = "prunable-includes-embedding"
SEVERITY = Severity.INFO


def check(ctx: LintContext) -> Iterator[Finding]:
    for modifier in ctx.of_type(*PRUNERS):
        if "__ALL_PRUNABLE__" not in ctx.patterns(modifier):
            continue
        embeddings = [p["name"] for p in ctx.params or () if p.get("module_type") == "Embedding"]
        if ctx.params is None or embeddings:
            which = f" ({embeddings[0]}{' ...' if len(embeddings) > 1 else ''})" if embeddings else ""
            yield Finding(ctx.span_of(modifier, "params"), f"__ALL_PRUNABLE__ also prunes Embedding weights{which}")
