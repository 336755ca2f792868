"""A v2 quantization modifier with both `scheme` and `config_groups`.

llm-compressor refuses the pair ("Please specify either `scheme` or
`config_groups`"), and SparseML 1.8 builds its config from `config_groups` and
drops `scheme`.  Give one of them.

Bad:

```yaml
quant_stage:
  quant_modifiers:
    GPTQModifier:
      scheme: W4A16
      targets: [Linear]
      config_groups:
        group_0:
          targets: [Linear]
          weights: {num_bits: 8, type: int, symmetric: true, strategy: channel}
```

Good:

```yaml
quant_stage:
  quant_modifiers:
    GPTQModifier:
      scheme: W4A16
      targets: [Linear]
```
"""

from __future__ import annotations

from collections.abc import Iterator

from recipekit.diagnostics import Severity
from recipekit.lint_rules import _v2
from recipekit.lint_rules._context import Finding, LintContext

CODE = "L375"
NAME = "v2-scheme-and-config-groups"
SEVERITY = Severity.ERROR
COMPILE = "—"
COMPILE_NOTE = "a v2 recipe has no plan: `recipekit compile` refuses every v2 recipe (C415)"


def check(ctx: LintContext) -> Iterator[Finding]:
    for modifier in _v2.modifiers(ctx):
        scheme, groups = modifier.arg("scheme"), modifier.arg("config_groups")
        if scheme is None or groups is None:
            continue
        yield Finding(
            scheme[0].span,
            f"{modifier.type} has both `scheme` and `config_groups`: llm-compressor refuses the pair and SparseML 1.8 "
            "ignores `scheme`. Keep one",
            related=(("config_groups is here", groups[0].span),),
        )
