"""More than one QuantizationModifier.

Quantization cannot be applied twice: SparseML 1.8 loaded such a recipe and, at
the second modifier's start, wrapped the already fake-quantized model again
(nested quantizers, not what either modifier reads as); its v2 successor refuses
it ("Quantization can not be applied more than once", sparseml#2193). `recipekit
compile` warns and the runtime refuses the plan at `attach`. Use one modifier;
`scheme_overrides` and `ignore` give different layers different settings.

Bad:

```yaml
modifiers:
  - !EpochRangeModifier
    start_epoch: 0.0
    end_epoch: 10.0
  - !QuantizationModifier
    start_epoch: 5.0
  - !QuantizationModifier
    start_epoch: 8.0
```

Good:

```yaml
modifiers:
  - !EpochRangeModifier
    start_epoch: 0.0
    end_epoch: 10.0
  - !QuantizationModifier
    start_epoch: 5.0
```
"""

from __future__ import annotations

from collections.abc import Iterator

from recipekit.compiler import traps
from recipekit.diagnostics import Severity
from recipekit.lint_rules._context import Finding, LintContext

# One check, two commands: `recipekit compile` warns with this code (compiler/traps.py); attach refuses the plan.
CODE = traps.SEVERAL_QUANTIZERS
NAME = traps.NAMES[CODE]
SEVERITY = Severity.ERROR
COMPILE = "warns"
COMPILE_NOTE = "and `attach` refuses the plan: the runtime simulates one QuantizationModifier"


def check(ctx: LintContext) -> Iterator[Finding]:
    quantizers = ctx.of_type("QuantizationModifier")
    for span, message in traps.several_quantizers(ctx.recipe.modifiers):
        yield Finding(span, message, (("the first one", quantizers[0].span),))
