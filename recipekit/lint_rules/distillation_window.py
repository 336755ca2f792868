"""A distillation window that ends where it starts: one step is distilled.

SparseML's DistillationModifier distils from `start_epoch` up to and including the step
at `end_epoch`. An `end_epoch` of 0, or one not after `start_epoch`, leaves that single
step; the rest of training runs without the teacher, silently. Use `end_epoch: -1` to
distil until training ends, or the epoch it should stop.

Bad:

```yaml
modifiers:
  - !EpochRangeModifier
    start_epoch: 0.0
    end_epoch: 10.0
  - !DistillationModifier
    start_epoch: 0.0
    end_epoch: 0.0
    hardness: 1.0
    temperature: 2.0
```

Good:

```yaml
modifiers:
  - !EpochRangeModifier
    start_epoch: 0.0
    end_epoch: 10.0
  - !DistillationModifier
    start_epoch: 0.0
    end_epoch: -1.0
    hardness: 1.0
    temperature: 2.0
```
"""

from __future__ import annotations

from collections.abc import Iterator

from recipekit.compiler import traps
from recipekit.diagnostics import Severity
from recipekit.lint_rules._context import Finding, LintContext

# One check, two commands: `recipekit compile` warns with this code too (compiler/traps.py).
CODE = traps.DISTILLATION_WINDOW
NAME = traps.NAMES[CODE]
SEVERITY = Severity.WARNING
COMPILE = "warns"


def check(ctx: LintContext) -> Iterator[Finding]:
    for modifier in ctx.recipe.modifiers:
        for span, message in traps.distillation_window(modifier):
            yield Finding(span, message)
