"""An EpochRangeModifier that does not say how long SparseML trains, or a modifier that starts when training ends.

SparseML 1.8 trains for `manager.max_epochs`: the largest `ceil(start_epoch)` or
`ceil(end_epoch)` (-1 left out) over every modifier (`optim/manager.py:
_max_modifier_epoch`), not the EpochRangeModifier's end. A pruner that ends at 9
with an EpochRangeModifier ending at 6 trains 9 epochs and completes: the
EpochRangeModifier is the mistake, since readers (and the trainer arguments
written from it) take it for the length. The plan (`recipekit compile`), `show`
and the trainer callbacks use the same length. A modifier that starts where
training ends (QAT or a pruner at the last epoch) trains for no step.
Several EpochRangeModifiers (L307) say the length when the last one ends
where training does.

Bad:

```yaml
modifiers:
  - !EpochRangeModifier
    start_epoch: 0.0
    end_epoch: 6.0
  - !GMPruningModifier
    params: ["re:.*weight"]
    init_sparsity: 0.05
    final_sparsity: 0.8
    start_epoch: 1.0
    end_epoch: 9.0
    update_frequency: 1.0
```

Good:

```yaml
modifiers:
  - !EpochRangeModifier
    start_epoch: 0.0
    end_epoch: 9.0
  - !GMPruningModifier
    params: ["re:.*weight"]
    init_sparsity: 0.05
    final_sparsity: 0.8
    start_epoch: 1.0
    end_epoch: 9.0
    update_frequency: 1.0
```
"""

from __future__ import annotations

from collections.abc import Iterator

from recipekit.diagnostics import Severity
from recipekit.lint_rules._context import PRUNERS, Finding, LintContext
from recipekit.plan import schedule

CODE = "L305"
NAME = "after-training-end"
SEVERITY = Severity.WARNING

#: How SparseML's length is worded in every message (the callbacks' reconciliation says the same: schedule.LENGTH_RULE).
LENGTH = "training lasts {length:g} epochs (" + schedule.LENGTH_RULE + ")"


def check(ctx: LintContext) -> Iterator[Finding]:
    length, setter = ctx.training_end, ctx.length_setter
    if length is None or setter is None:
        return
    modifier, which = setter
    line = ctx.source.line_col(modifier.span.start)[0]
    where = f"{modifier.type} at line {line} {'ends' if which == 'end_epoch' else 'starts'} at {modifier.value(which):g}"
    setter_note = (("this sets the training length", ctx.span_of(modifier, which)),)
    # Several EpochRangeModifiers (L307) say the length when the last one ends where training does.
    ranges = sorted(ctx.of_type("EpochRangeModifier"), key=lambda m: float(m.value("end_epoch")))
    if ranges and ranges[-1].value("end_epoch") >= 0 and float(ranges[-1].value("end_epoch")) != length:
        last = ranges[-1]
        end = float(last.value("end_epoch"))
        cause = "SparseML rounds its end up;" if modifier is last else f"{where}; fit that modifier into {end:g} epochs, or"
        message = f"the EpochRangeModifier ends at epoch {end:g}, but {LENGTH.format(length=length)}: {cause} set end_epoch: {length:g}"
        yield Finding(ctx.span_of(last, "end_epoch"), message, setter_note if modifier is not last else ())
    spe = ctx.steps_per_epoch
    for other in ctx.of_type("QuantizationModifier", *PRUNERS):
        start = float(other.value("start_epoch"))
        end = float(other.value("end_epoch")) if "end_epoch" in other.params else -1.0
        if -1 < end < start:
            continue  # end-before-start (L301): SparseML refused it at load
        # The first step at or after start_epoch is past the last step: not one step runs (with the steps per
        # epoch known, a start between the last step and the end counts too).
        never = start >= length if spe is None else start > 0 and schedule.first_step_at(start, spe) >= round(length * spe)
        if never:
            message = (
                f"{other.type} starts at epoch {start:g}, where {LENGTH.format(length=length).replace('lasts', 'ends after')}: "
                "it trains for no step; start it earlier, or end a modifier later to train longer"
            )
            yield Finding(ctx.span_of(other, "start_epoch"), message, setter_note if other is not modifier else ())
