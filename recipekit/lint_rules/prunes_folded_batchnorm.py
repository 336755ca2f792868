"""A pruner selects a BatchNorm weight that QAT folds into the convolution before it.

Under quantization-aware training a Conv2d directly followed by a BatchNorm2d is simulated folded,
as torch's QAT ConvBn2d (and so SparseML) computes it: the convolution runs on the weight scaled
by `bn.weight / sqrt(running_var + eps)` and its output is divided by that factor again. A pruned
BatchNorm weight is 0 there: 0 / 0, so every pruned channel's output is NaN from the step QAT
starts and the run diverges. Patterns such as `re:features.*.weight` select the BatchNorm weights
along with the convolution weights; name the convolution weights only (or `__ALL_PRUNABLE__`).
Found with a `--params` manifest (`recipekit params`), which says which module owns each
parameter; the runtime refuses such a plan at `attach` too.

Parameters: features.0.weight [8, 3, 3, 3] Conv2d, features.1.weight [8] BatchNorm2d, features.1.bias [8] BatchNorm2d

Bad:

```yaml
modifiers:
  - !EpochRangeModifier
    start_epoch: 0.0
    end_epoch: 10.0
  - !GMPruningModifier
    params: ["re:features.*.weight"]
    init_sparsity: 0.05
    final_sparsity: 0.8
    start_epoch: 0.0
    end_epoch: 5.0
    update_frequency: 1.0
  - !QuantizationModifier
    start_epoch: 6.0
```

Good:

```yaml
modifiers:
  - !EpochRangeModifier
    start_epoch: 0.0
    end_epoch: 10.0
  - !GMPruningModifier
    params: ["features.0.weight"]
    init_sparsity: 0.05
    final_sparsity: 0.8
    start_epoch: 0.0
    end_epoch: 5.0
    update_frequency: 1.0
  - !QuantizationModifier
    start_epoch: 6.0
```
"""

from __future__ import annotations

from collections.abc import Iterator

from recipekit.diagnostics import Severity
from recipekit.lint_rules._context import PRUNERS, Finding, LintContext
from recipekit.lint_rules._helpers import folded_batchnorm_weights

CODE = "L379"
NAME = "prunes-folded-batchnorm"
SEVERITY = Severity.ERROR
COMPILE = "—"
COMPILE_NOTE = "it needs the model: `attach` refuses it (SparseML trained into NaN outputs)"


def check(ctx: LintContext) -> Iterator[Finding]:
    folded = folded_batchnorm_weights(ctx)
    if not folded:
        return
    qat = ctx.of_type("QuantizationModifier")[0]
    for modifier in ctx.of_type(*PRUNERS):
        if modifier.type == "ConstantPruningModifier":
            continue  # holds the zeros a weight already has: it prunes nothing
        hit = sorted(n for n in ctx.matched(modifier) or () if n in folded)
        if hit:
            more = f" (and {len(hit) - 1} more BatchNorm weights)" if len(hit) > 1 else ""
            conv = folded[hit[0]]
            message = (
                f"prunes BatchNorm weight {hit[0]}{more}, which QAT folds into {conv}: the fold divides by it, so each pruned "
                f"channel's output is NaN (0/0) once QAT starts. Select the convolution weights only (e.g. {conv}.weight)"
            )
            yield Finding(ctx.span_of(modifier, "params"), message, (("QAT starts here", qat.span),))
