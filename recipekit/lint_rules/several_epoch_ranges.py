"""More than one EpochRangeModifier.

The integrations train for the range of one EpochRangeModifier; with several,
which one decides the training length is not visible in the recipe. Keep one.

Bad:

```yaml
modifiers:
  - !EpochRangeModifier
    start_epoch: 0.0
    end_epoch: 10.0
  - !EpochRangeModifier
    start_epoch: 0.0
    end_epoch: 20.0
```

Good:

```yaml
modifiers:
  - !EpochRangeModifier
    start_epoch: 0.0
    end_epoch: 20.0
```
"""

from __future__ import annotations

from collections.abc import Iterator

from recipekit.diagnostics import Severity
from recipekit.lint_rules._context import Finding, LintContext

CODE = "L307"
NAME = "several-epoch-ranges"
SEVERITY = Severity.WARNING


def check(ctx: LintContext) -> Iterator[Finding]:
    ranges = ctx.of_type("EpochRangeModifier")
    for extra in ranges[1:]:
        yield Finding(
            extra.span, "a second EpochRangeModifier; keep one so the training length is unambiguous", (("the first one", ranges[0].span),)
        )
