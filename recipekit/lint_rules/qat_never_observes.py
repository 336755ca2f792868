"""QAT whose observers are switched off at the epoch it starts: nothing is ever observed.

SparseML turns QAT on in the update after a step's forward pass, and a
``disable_quantization_observer_epoch`` equal to ``start_epoch`` switches the observers off in
that same update, so no fake-quantizer ever sees a batch. torch's FakeQuantize then quantizes
with its initial scale 1.0 and zero point 0: activations are rounded to integers and most
weights to zero (only the Embedding weight quantizers of the legacy modifier, which ignore the
switch, observe). recipekit reproduces this and warns at ``attach`` and ``finalize``; the fix is
to leave the observers on for at least an epoch.

Bad:

```yaml
modifiers:
  - !EpochRangeModifier
    start_epoch: 0.0
    end_epoch: 4.0
  - !QuantizationModifier
    start_epoch: 2.0
    disable_quantization_observer_epoch: 2.0
```

Good:

```yaml
modifiers:
  - !EpochRangeModifier
    start_epoch: 0.0
    end_epoch: 4.0
  - !QuantizationModifier
    start_epoch: 2.0
    disable_quantization_observer_epoch: 3.0
```
"""

from __future__ import annotations

from collections.abc import Iterator

from recipekit.diagnostics import Severity
from recipekit.lint_rules._context import Finding, LintContext

CODE = "L337"
NAME = "qat-never-observes"
SEVERITY = Severity.WARNING


def check(ctx: LintContext) -> Iterator[Finding]:
    for modifier in ctx.of_type("QuantizationModifier"):
        start = modifier.value("start_epoch") if "start_epoch" in modifier.params else -1
        off = modifier.value("disable_quantization_observer_epoch") if "disable_quantization_observer_epoch" in modifier.params else None
        # start <= 0 enables QAT at initialize, so the first batch is observed; off < start is C404.
        if off is None or start <= 0 or off != start:
            continue
        yield Finding(
            ctx.span_of(modifier, "disable_quantization_observer_epoch"),
            f"observers are disabled at epoch {off}, the epoch QAT starts: no quantizer ever observes a batch and all "
            "quantize with scale 1.0 and zero point 0 (as in SparseML); disable them at least one epoch later",
            (("QAT starts here", ctx.span_of(modifier, "start_epoch")),),
        )
