"""A pruning modifier whose update_frequency makes it update at every optimizer step.

SparseML reads an `update_frequency` of -1 or 0 on a gradual pruner as "every optimizer step":
the masks are rebuilt from a magnitude sort of every selected tensor on every step, which on a
large model costs more than the step itself, and the sparsity ramp has as many small jumps as
there are steps. Write the interval in epochs that was meant.

Bad:

```yaml
modifiers:
  - !GMPruningModifier
    params: [fc.weight]
    init_sparsity: 0.05
    final_sparsity: 0.8
    start_epoch: 0.0
    end_epoch: 10.0
    update_frequency: 0
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
    update_frequency: 0.5
```
"""

from __future__ import annotations

from collections.abc import Iterator

from recipekit.diagnostics import Severity
from recipekit.ir import GRADUAL_PRUNERS
from recipekit.lint_rules._context import Finding, LintContext

CODE = "L308"
NAME = "update-every-step"
SEVERITY = Severity.WARNING


def check(ctx: LintContext) -> Iterator[Finding]:
    for modifier in ctx.of_type(*GRADUAL_PRUNERS):
        param = modifier.params.get("update_frequency")
        if param is None or param.span is None or param.ignored or not isinstance(param.value, (int, float)):
            continue
        if param.value <= 0:
            yield Finding(
                param.span,
                f"update_frequency {param.value} rebuilds the masks at every optimizer step (SparseML reads -1 and 0 so); "
                "write the interval in epochs, such as 0.5 or 1.0",
            )
