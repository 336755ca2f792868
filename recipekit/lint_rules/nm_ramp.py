"""An N:M mask with a gradual sparsity ramp.

An N:M mask (`2:4`, `tensorrt`) keeps N of every M weights, so its sparsity is
exactly 1 - N/M. SparseML fails at the first update whose target differs, so
init_sparsity and final_sparsity must both be 1 - N/M.

Bad:

```yaml
modifiers:
  - !GMPruningModifier
    params: ["re:.*weight"]
    init_sparsity: 0.05
    final_sparsity: 0.5
    start_epoch: 0.0
    end_epoch: 10.0
    update_frequency: 1.0
    mask_type: "2:4"
```

Good:

```yaml
modifiers:
  - !GMPruningModifier
    params: ["re:.*weight"]
    init_sparsity: 0.5
    final_sparsity: 0.5
    start_epoch: 0.0
    end_epoch: 10.0
    update_frequency: 1.0
    mask_type: "2:4"
```
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from recipekit.diagnostics import Severity
from recipekit.lint_rules._context import GRADUAL_PRUNERS, Finding, LintContext

CODE = "L314"
NAME = "nm-ramp"
SEVERITY = Severity.ERROR


def check(ctx: LintContext) -> Iterator[Finding]:
    for modifier in ctx.of_type(*GRADUAL_PRUNERS):
        mask = modifier.value("mask_type")
        match = re.fullmatch(r"(\d+):(\d+)", str(mask)) if isinstance(mask, str) else None
        if not match and mask != "tensorrt":
            continue
        n, m = (int(match.group(1)), int(match.group(2))) if match else (2, 4)
        ratio = 1 - n / m
        final = modifier.value("final_sparsity")
        for name, value in (("init_sparsity", modifier.value("init_sparsity")), ("final_sparsity", final)):
            values = list(value) if isinstance(value, dict) else [value]
            if any(isinstance(v, float) and abs(v - ratio) > 1e-2 for v in values):
                message = f"{name} {value} with an N:M mask ({mask}): SparseML only reaches {ratio}; set it to {ratio}"
                yield Finding(ctx.span_of(modifier, name), message)
                break
