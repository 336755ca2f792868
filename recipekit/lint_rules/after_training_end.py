"""A modifier that starts after training ends, or is cut short by it.

Training lasts until the EpochRangeModifier's end_epoch (SparseML's integrations
train for that many epochs). A modifier that starts at or after it never runs;
one that ends after it never reaches its end (a pruner never reaches
final_sparsity, an LR schedule is cut off).

Bad:

```yaml
modifiers:
  - !EpochRangeModifier
    start_epoch: 0.0
    end_epoch: 10.0
  - !SetLearningRateModifier
    learning_rate: 0.01
    start_epoch: 12.0
```

Good:

```yaml
modifiers:
  - !EpochRangeModifier
    start_epoch: 0.0
    end_epoch: 10.0
  - !SetLearningRateModifier
    learning_rate: 0.01
    start_epoch: 8.0
```
"""

from __future__ import annotations

from collections.abc import Iterator

from recipekit.diagnostics import Severity
from recipekit.lint_rules._context import Finding, LintContext

CODE = "L305"
NAME = "after-training-end"
SEVERITY = Severity.WARNING


def check(ctx: LintContext) -> Iterator[Finding]:
    ranges = ctx.of_type("EpochRangeModifier")
    if not ranges or ranges[0].value("end_epoch") < 0:
        return
    end_of_training = float(ranges[0].value("end_epoch"))
    related = (("training ends here", ctx.span_of(ranges[0], "end_epoch")),)
    for modifier in ctx.recipe.modifiers:
        if modifier.type == "EpochRangeModifier" or "start_epoch" not in modifier.params:
            continue
        start = modifier.value("start_epoch")
        end = modifier.value("end_epoch") if "end_epoch" in modifier.params and not modifier.params["end_epoch"].ignored else -1
        if start >= end_of_training:
            yield Finding(
                ctx.span_of(modifier, "start_epoch"),
                f"{modifier.type} starts at epoch {start}, but training ends at {end_of_training}: it never runs",
                related,
            )
        elif end > end_of_training:
            yield Finding(
                ctx.span_of(modifier, "end_epoch"),
                f"{modifier.type} ends at epoch {end}, after training ends at {end_of_training}: it is cut short",
                related,
            )
