"""init_sparsity is greater than final_sparsity.

SparseML accepts it and the ramp runs backwards: sparsity decreases over the
range, but weights pruned earlier stay zero under masks that only grow. This is
almost always a swapped pair.

Bad:

```yaml
modifiers:
  - !GMPruningModifier
    params: ["re:.*weight"]
    init_sparsity: 0.8
    final_sparsity: 0.5
    start_epoch: 0.0
    end_epoch: 10.0
    update_frequency: 1.0
```

Good:

```yaml
modifiers:
  - !GMPruningModifier
    params: ["re:.*weight"]
    init_sparsity: 0.5
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

CODE = "L311"
NAME = "sparsity-decreases"
SEVERITY = Severity.WARNING


def check(ctx: LintContext) -> Iterator[Finding]:
    for modifier in ctx.of_type(*GRADUAL_PRUNERS):
        init, final = modifier.value("init_sparsity"), modifier.value("final_sparsity")
        finals = list(final) if isinstance(final, dict) else [final]
        if isinstance(init, float) and any(init > f for f in finals):
            related = (("final_sparsity is set here", ctx.span_of(modifier, "final_sparsity")),)
            yield Finding(
                ctx.span_of(modifier, "init_sparsity"),
                f"init_sparsity {init} is above final_sparsity {final}: the ramp runs backwards",
                related,
            )
