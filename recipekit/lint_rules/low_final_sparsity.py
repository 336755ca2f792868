"""A final sparsity below 0.4.

Unstructured sparsity under about 40 % rarely speeds up inference, so the
pruning run may cost accuracy for nothing. This is information, not an error.

Bad:

```yaml
modifiers:
  - !GMPruningModifier
    params: ["re:.*weight"]
    init_sparsity: 0.05
    final_sparsity: 0.3
    start_epoch: 0.0
    end_epoch: 10.0
    update_frequency: 1.0
```

Good:

```yaml
modifiers:
  - !GMPruningModifier
    params: ["re:.*weight"]
    init_sparsity: 0.05
    final_sparsity: 0.7
    start_epoch: 0.0
    end_epoch: 10.0
    update_frequency: 1.0
```
"""

from __future__ import annotations

from collections.abc import Iterator

from recipekit.diagnostics import Severity
from recipekit.lint_rules._context import GRADUAL_PRUNERS, Finding, LintContext

CODE = "L312"
NAME = "low-final-sparsity"
SEVERITY = Severity.INFO


def check(ctx: LintContext) -> Iterator[Finding]:
    for modifier in ctx.of_type(*GRADUAL_PRUNERS):
        final = modifier.value("final_sparsity")
        for value in final if isinstance(final, dict) else [final]:
            if value < 0.4:
                yield Finding(
                    ctx.span_of(modifier, "final_sparsity"), f"final sparsity {value} is below 0.4, which seldom speeds up inference"
                )
                break
