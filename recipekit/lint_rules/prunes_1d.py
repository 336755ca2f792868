"""A pruning modifier selects 1-D tensors (biases, norm weights).

Pruning biases or normalization weights saves nothing and hurts accuracy; it
happens through broad patterns such as `__ALL__` or `re:.*`. Select weights of
Linear and Conv layers (`__ALL_PRUNABLE__`, or patterns ending in `weight`).

Parameters: features.0.weight [8, 3, 3, 3] Conv2d, features.0.bias [8] Conv2d, norm.weight [8] LayerNorm

Bad:

```yaml
modifiers:
  - !GMPruningModifier
    params: __ALL__
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
    params: __ALL_PRUNABLE__
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
from recipekit.lint_rules._context import GRADUAL_PRUNERS, Finding, LintContext
from recipekit.lint_rules._helpers import folded_batchnorm_weights

CODE = "L323"
NAME = "prunes-1d-tensors"
SEVERITY = Severity.WARNING


def _is_flat(shape: object) -> bool:
    return isinstance(shape, list) and len(shape) <= 1


def check(ctx: LintContext) -> Iterator[Finding]:
    if ctx.params is None:
        return
    shapes = {p["name"]: p.get("shape") for p in ctx.params}
    folded = folded_batchnorm_weights(ctx)  # L379's error says more about these
    for modifier in ctx.of_type(*GRADUAL_PRUNERS):
        flat = sorted(n for n in ctx.matched(modifier) or () if _is_flat(shapes.get(n)) and n not in folded)
        if flat:
            more = f" and {len(flat) - 1} more" if len(flat) > 1 else ""
            yield Finding(ctx.span_of(modifier, "params"), f"prunes 1-D tensor {flat[0]}{more}; select layer weights only")
