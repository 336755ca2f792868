"""A QuantizationModifier `ignore` or `scheme_overrides` entry that matches no module of the model.

SparseML refused it when QAT started (`ignore contains submodule names or module types that do
not match to any submodules in the model`), after the epochs before it had trained, unless
`strict: false`. An entry matches a module whose name starts with it (`module.` stripped) or
whose class name it is (`ReLU`, `Linear`; subclasses do not count). Needs a manifest that lists
the model's modules: `recipekit params --model` writes one (`--params`); a checkpoint's manifest
or a list of names does not, and the rule then stays silent. `attach` refuses the same entries.

Parameters: features.0.weight [8, 3, 3, 3] Conv2d, classifier.weight [10, 8] Linear
Modules: features Sequential, features.0 Conv2d, features.1 ReLU, classifier Linear

Bad:

```yaml
modifiers:
  - !QuantizationModifier
    start_epoch: 0.0
    ignore: [ReLU6, classifer]
```

Good:

```yaml
modifiers:
  - !QuantizationModifier
    start_epoch: 0.0
    ignore: [ReLU, classifier]
```
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from recipekit.diagnostics import Severity
from recipekit.lint_rules._context import Finding, LintContext
from recipekit.plan import qat_names
from recipekit.source import Span

CODE = "L338"
NAME = "qat-unmatched-modules"
SEVERITY = Severity.ERROR
COMPILE = "—"
COMPILE_NOTE = "it needs the model's modules: SparseML refused it at initialize, and `attach` refuses it"


def check(ctx: LintContext) -> Iterator[Finding]:
    listed = getattr(ctx.params, "modules", None)  # only a manifest of `recipekit params --model` lists them
    if not listed:
        return
    modules = [(str(m["name"]), str(m.get("type"))) for m in listed]
    for modifier in ctx.of_type("QuantizationModifier"):
        if modifier.flavour == "legacy" or not modifier.value("strict"):
            continue
        for key in qat_names.KEYS:
            if key not in modifier.params or not modifier.params[key].given:
                continue
            value = modifier.value(key) or []
            for entry in qat_names.unmatched([e for e in value if isinstance(e, str)], modules):
                yield Finding(_entry_span(ctx, ctx.span_of(modifier, key), entry), qat_names.message(key, entry, modules))


def _entry_span(ctx: LintContext, span: Span, entry: str) -> Span:
    """A list item, or a mapping key (``scheme_overrides: {Linear: ...}``), as written; else the whole value."""
    item = ctx.source.item_span(span, entry)
    if item != span:
        return item
    written = ctx.source.text[span.start : span.end]
    key = re.search(rf"(?<![\w.'\"])(['\"]?){re.escape(entry)}\1[ \t]*:", written)
    return Span(span.start + key.start(), span.start + key.start() + len(entry) + 2 * len(key.group(1))) if key else span
