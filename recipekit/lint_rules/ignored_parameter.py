"""A parameter SparseML silently ignores.

SparseML overrides some parameters whatever the recipe says: `end_epoch` of
SetLearningRate, SetWeightDecay and LayerThinning is always -1, and
`update_frequency` of ConstantPruning, the LR modifiers, LayerPruning and
distillation is always -1 (every step), and GradualParamModifier always
interpolates linearly whatever its `inter_func` says. A value written there suggests a
behaviour that does not happen; remove it.

Bad:

```yaml
modifiers:
  - !SetLearningRateModifier
    learning_rate: 0.01
    start_epoch: 2.0
    end_epoch: 5.0
```

Good:

```yaml
modifiers:
  - !SetLearningRateModifier
    learning_rate: 0.01
    start_epoch: 2.0
```
"""

from __future__ import annotations

from collections.abc import Iterator

from recipekit.diagnostics import Severity
from recipekit.lint_rules._context import Finding, LintContext
from recipekit.lint_rules._helpers import delete_key

CODE = "L306"
NAME = "ignored-parameter"
SEVERITY = Severity.WARNING


def check(ctx: LintContext) -> Iterator[Finding]:
    for modifier in ctx.recipe.modifiers:
        for name, param in modifier.params.items():
            if not param.ignored or param.key_span is None or param.span is None:
                continue
            message = f"SparseML ignores {name} on {modifier.type} and always uses {param.value}; remove it"
            edits = delete_key(ctx.source, param.key_span, param.span)
            yield Finding(param.key_span, message, fix=(f"remove {name}", edits) if edits else None)
