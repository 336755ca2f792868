"""A recipe variable that nothing uses.

Every top-level key that is not a modifier list is a variable. One that no
`eval(...)` and no `*alias` refers to does nothing, and is often a misspelling
of the key a modifier meant to use, or a leftover that misleads readers
("the recipe says 100 epochs").

Bad:

```yaml
num_epochs: 10.0
warmup_epochs: 2.0
modifiers:
  - !EpochRangeModifier
    start_epoch: 0.0
    end_epoch: eval(num_epochs)
```

Good:

```yaml
num_epochs: 10.0
modifiers:
  - !EpochRangeModifier
    start_epoch: 0.0
    end_epoch: eval(num_epochs)
```
"""

from __future__ import annotations

from collections.abc import Iterator

from recipekit.compiler.yaml_tree import Scalar
from recipekit.diagnostics import Severity
from recipekit.lint_rules._context import Finding, LintContext, walk

CODE = "L361"
NAME = "unused-variable"
SEVERITY = Severity.WARNING


def _names(text: str) -> set[str]:
    if not (text.startswith("eval(") and text.endswith(")")):
        return set()
    from recipekit.compiler.expr import ExprError, Name, parse

    try:
        tree = parse(text[5:-1])
    except ExprError:
        return set()
    found, stack = set(), [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, Name):
            found.add(node.name)
        stack.extend(getattr(node, field) for field in ("left", "right", "operand") if hasattr(node, field))
        stack.extend(getattr(node, "items", ()) + getattr(node, "args", ()))
    return found


def check(ctx: LintContext) -> Iterator[Finding]:
    used: set[str] = set()
    aliased: set[tuple[int, int]] = set()
    for node in walk(ctx.tree):
        if isinstance(node, Scalar) and isinstance(node.value, str):
            used |= _names(node.value)
        if node.alias_of is not None:
            aliased.add((node.alias_of.start, node.alias_of.end))
    for name, variable in ctx.recipe.variables.items():
        if variable.stage is not None or variable.name in used:
            continue
        if (variable.span.start, variable.span.end) in aliased or any(s <= variable.span.start < e for s, e in aliased):
            continue
        yield Finding(variable.key_span, f"variable {name!r} is never used (no eval(...) or *alias refers to it)")
