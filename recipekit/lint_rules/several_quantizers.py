"""More than one QuantizationModifier.

Quantization cannot be applied twice ("Quantization can not be applied more
than once", sparseml#2193). Use one modifier; `scheme_overrides` and `ignore`
give different layers different settings.

Bad:

```yaml
modifiers:
  - !QuantizationModifier
    start_epoch: 5.0
  - !QuantizationModifier
    start_epoch: 8.0
```

Good:

```yaml
modifiers:
  - !QuantizationModifier
    start_epoch: 5.0
```
"""

from __future__ import annotations

from collections.abc import Iterator

from recipekit.diagnostics import Severity
from recipekit.lint_rules._context import Finding, LintContext

CODE = "L334"
NAME = "several-quantizers"
SEVERITY = Severity.ERROR


def check(ctx: LintContext) -> Iterator[Finding]:
    quantizers = ctx.of_type("QuantizationModifier")
    for extra in quantizers[1:]:
        yield Finding(
            extra.span, "a second QuantizationModifier: quantization cannot be applied twice", (("the first one", quantizers[0].span),)
        )
