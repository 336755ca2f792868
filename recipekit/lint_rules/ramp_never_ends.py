"""A gradual pruner with end_epoch: -1.

The sparsity ramp is measured towards end_epoch; with -1 the interpolation runs
backwards and SparseML keeps the sparsity at init_sparsity forever, silently.
Set the epoch where final_sparsity should be reached.

Bad:

```yaml
modifiers:
  - !GMPruningModifier
    params: ["re:.*weight"]
    init_sparsity: 0.05
    final_sparsity: 0.8
    start_epoch: 0.0
    end_epoch: -1
    update_frequency: 1.0
```

Good:

```yaml
modifiers:
  - !GMPruningModifier
    params: ["re:.*weight"]
    init_sparsity: 0.05
    final_sparsity: 0.8
    start_epoch: 0.0
    end_epoch: 30.0
    update_frequency: 1.0
```
"""

from __future__ import annotations

from collections.abc import Iterator

from recipekit.diagnostics import Severity
from recipekit.lint_rules._context import GRADUAL_PRUNERS, Finding, LintContext

CODE = "L303"
NAME = "ramp-never-ends"
SEVERITY = Severity.WARNING


def check(ctx: LintContext) -> Iterator[Finding]:
    for modifier in ctx.of_type(*GRADUAL_PRUNERS):
        if modifier.value("end_epoch") == -1:
            init = modifier.value("init_sparsity")
            message = f"end_epoch -1 keeps the sparsity at init_sparsity ({init}) forever; set the epoch where final_sparsity is reached"
            yield Finding(ctx.span_of(modifier, "end_epoch"), message)
