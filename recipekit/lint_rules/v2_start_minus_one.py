"""A negative `start` or `end` in a v2 modifier: v1's `-1` has no meaning in v2.

In v1, `start_epoch: -1` means "from the first step" and `end_epoch: -1` "until
training ends".  v2 has no such sentinel: a modifier is active while
`start <= index < end`, so `start: -1` is just a start before step 0, and
`end: -1` ends the modifier before it ever runs.  Both libraries accept either
without a word.  Write `start: 0`, and leave `end` out to never end.

Bad:

```yaml
train_stage:
  pruning_modifiers:
    ConstantPruningModifier:
      targets: ["re:.*weight"]
      start: -1
```

Good:

```yaml
train_stage:
  pruning_modifiers:
    ConstantPruningModifier:
      targets: ["re:.*weight"]
      start: 0
```
"""

from __future__ import annotations

from collections.abc import Iterator

from recipekit.compiler.yaml_tree import Scalar
from recipekit.diagnostics import Severity
from recipekit.lint_rules import _v2
from recipekit.lint_rules._context import Finding, LintContext

CODE = "L376"
NAME = "v2-start-minus-one"
SEVERITY = Severity.ERROR
COMPILE = "—"
COMPILE_NOTE = "a v2 recipe has no plan: `recipekit compile` refuses every v2 recipe (C415)"

_MEANS = {
    "start": "a start before step 0 (it starts at once, as `start: 0` would say clearly)",
    "end": "an end before step 0: the modifier never runs",
}


def check(ctx: LintContext) -> Iterator[Finding]:
    for modifier in _v2.modifiers(ctx):
        for name, meaning in _MEANS.items():
            found = modifier.arg(name)
            if found is None or not isinstance(found[1], Scalar):
                continue
            value = found[1].value
            if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
                fix = "write `start: 0`" if name == "start" else "leave `end` out to never end"
                yield Finding(
                    found[1].span,
                    f"`{name}: {found[1].text}` is v1's 'not set' sentinel, which v2 does not have; "
                    f"here it is {meaning}. {fix.capitalize()}",
                )
