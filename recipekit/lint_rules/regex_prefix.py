"""A `re:` pattern whose meaning differs from how SparseML matches it.

SparseML matches `re:` patterns with `re.match`: anchored at the *start* of the
name, not searched and not a full match. `re:weight` matches nothing (names
start with the layer), and `re:features.0` also hits `features.0.bias` and
`features.01.weight`. End the pattern with `weight` or `$` to be precise
(patterns that match nothing at all are reported by unmatched-params).

Parameters: features.0.weight [8, 3, 3, 3] Conv2d, features.0.bias [8] Conv2d

Bad:

```yaml
modifiers:
  - !TrainableParamsModifier
    params: ["re:features.0"]
    trainable: false
```

Good:

```yaml
modifiers:
  - !TrainableParamsModifier
    params: ["re:features.0.weight"]
    trainable: false
```
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from recipekit.diagnostics import Severity
from recipekit.lint_rules._context import Finding, LintContext

CODE = "L322"
NAME = "regex-prefix"
SEVERITY = Severity.WARNING


def check(ctx: LintContext) -> Iterator[Finding]:
    if ctx.params is None:
        return
    names = [p["name"] for p in ctx.params]
    for modifier in ctx.recipe.modifiers:
        if "params" not in modifier.params:
            continue
        for pattern in ctx.patterns(modifier):
            if not pattern.startswith("re:"):
                continue
            try:
                regex = re.compile(pattern[3:])
            except re.error:
                continue
            matched = [n for n in names if regex.match(n)]
            if (
                any(n.endswith(".bias") for n in matched)
                and any(n.endswith(".weight") for n in matched)
                and not pattern.endswith(("$", ".*"))
            ):
                bias = next(n for n in matched if n.endswith(".bias"))
                message = f"{pattern!r} is a prefix match and also selects {bias}; end the pattern with 'weight' to select weights only"
                yield Finding(ctx.span_of(modifier, "params"), message)
