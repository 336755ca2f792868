"""A value whose meaning differs between YAML 1.1 (SparseML) and YAML 1.2.

SparseML read recipes with PyYAML (YAML 1.1): `1e-3` is a *string* there (a
float needs a dot and a signed exponent), `yes`/`no`/`on`/`off` are booleans,
`010` is octal 8 and `1:30` is 90. YAML 1.2 tools, editors and reviewers read
them differently. The fix rewrites each value so both agree, keeping SparseML's
meaning.

Bad:

```yaml
modifiers:
  - !SetLearningRateModifier
    learning_rate: 1e-3
    start_epoch: 0.0
```

Good:

```yaml
modifiers:
  - !SetLearningRateModifier
    learning_rate: 1.0e-3
    start_epoch: 0.0
```
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from recipekit.compiler import yaml11
from recipekit.diagnostics import Severity
from recipekit.lint_rules._context import Finding, LintContext, TextEdit, scalars

CODE = "L360"
NAME = "yaml11-value"
SEVERITY = Severity.WARNING
_YAML12_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")
_YAML12_BOOL = {"true", "false", "True", "False", "TRUE", "FALSE"}


def _replacement(text: str, kind: str, value: object) -> str | None:
    if kind == "str" and _YAML12_FLOAT.match(text):
        return yaml11.float_spelling(text)
    if kind == "bool" and text not in _YAML12_BOOL:
        return "true" if value else "false"
    if kind == "int" and not re.fullmatch(r"[-+]?(0|[1-9][0-9]*)", text):
        return str(value)
    if kind == "float" and ("_" in text or ":" in text):
        return repr(value)
    return None


def check(ctx: LintContext) -> Iterator[Finding]:
    for scalar, is_key in scalars(ctx.tree):
        if is_key or scalar.style is not None or scalar.tag is not None:
            continue
        kind, value = yaml11.resolve_plain(scalar.text)
        replacement = _replacement(scalar.text, kind, value)
        if replacement is None:
            continue
        meaning = "a string" if kind == "str" else repr(value)
        message = f"{scalar.text} is {meaning} for SparseML (YAML 1.1) but not in YAML 1.2; write {replacement}"
        yield Finding(scalar.span, message, fix=(f"write {replacement}", (TextEdit(scalar.span, replacement),)))
