"""A v2 `targets` or `ignore` entry that matches no module of the model.

llm-compressor matches each entry against module names (`re:` patterns with
`re.match`, at the start of the name; other entries exactly) and module class
names (`Linear`).  An entry that matches nothing is silent (llm-compressor
#1428, PR #3145): nothing is quantized or pruned there, or a module meant to be
skipped is not.  With a manifest (`--params`) recipe-lint checks every entry.

Parameters: model.layers.0.mlp.down_proj.weight [64, 256] Linear, lm_head.weight [100, 128] Linear

Bad:

```yaml
quant_stage:
  quant_modifiers:
    GPTQModifier:
      scheme: W4A16
      targets: [Linear]
      ignore: [language_model.lm_head]
```

Good:

```yaml
quant_stage:
  quant_modifiers:
    GPTQModifier:
      scheme: W4A16
      targets: [Linear]
      ignore: [lm_head]
```
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from recipekit.diagnostics import Severity
from recipekit.lint_rules import _v2
from recipekit.lint_rules._context import Finding, LintContext
from recipekit.suggest import did_you_mean

CODE = "L377"
NAME = "v2-unmatched-targets"
SEVERITY = Severity.ERROR
COMPILE = "—"
COMPILE_NOTE = "a v2 recipe has no plan: `recipekit compile` refuses every v2 recipe (C415)"
ARGS = ("targets", "ignore")


def modules(params: list[dict[str, Any]]) -> dict[str, str]:
    """Module name → class name, from a parameter manifest (a parameter's module is its name less the last part)."""
    found: dict[str, str] = {}
    for param in params:
        name = param["name"].rpartition(".")[0]
        found.setdefault(name, param.get("module_type") or "")
    return found


def matches(entry: str, names: dict[str, str]) -> bool | None:
    """Whether ``entry`` selects a module as compressed-tensors does; None for a regex that does not compile."""
    if entry.startswith("re:"):
        try:
            pattern = re.compile(entry[3:])
        except re.error:
            return None
        return any(pattern.match(name) or pattern.match(kind) for name, kind in names.items())
    return entry in names or entry in names.values() or entry in ("__ALL__", "__ALL_PRUNABLE__")


def check(ctx: LintContext) -> Iterator[Finding]:
    if ctx.params is None:
        return
    names = modules(ctx.params)
    for modifier in _v2.modifiers(ctx):
        for arg in ARGS:
            found = modifier.arg(arg)
            if found is None:
                continue
            for entry in _v2.strings(found[1]):
                ok = matches(entry.value, names)  # type: ignore[arg-type]
                if ok:
                    continue
                text = str(entry.value)
                if ok is None:
                    message = f"{text!r} is not a valid regular expression; {modifier.type} fails on it"
                else:
                    hint = did_you_mean(text.removeprefix("re:"), [*names, *set(names.values())])
                    if text.startswith("re:") and any(re.search(text[3:], n) for n in names):
                        hint = f"; `re:` matches at the start of module names, write 're:.*{text[3:]}' to search"
                    effect = "nothing is skipped" if arg == "ignore" else "nothing there is compressed"
                    message = f"{arg} entry {text!r} of {modifier.type} matches no module of the model, so {effect}{hint}"
                yield Finding(entry.span, message)
