"""A mask_type the pruning modifier cannot build.

SparseML resolves mask_type only when training starts: `channel` and `filter`
work only for StructuredPruningModifier, and any other unknown name fails with
"Unknown mask_type". Valid types are `unstructured`, `block4`, `N:M` such as
`2:4`, `tensorrt` (2:4), or a block shape `[rows, cols]`.

Bad:

```yaml
modifiers:
  - !GMPruningModifier
    params: ["re:.*weight"]
    init_sparsity: 0.05
    final_sparsity: 0.8
    start_epoch: 0.0
    end_epoch: 10.0
    update_frequency: 1.0
    mask_type: filter
```

Good:

```yaml
modifiers:
  - !GMPruningModifier
    params: ["re:.*weight"]
    init_sparsity: 0.05
    final_sparsity: 0.8
    start_epoch: 0.0
    end_epoch: 10.0
    update_frequency: 1.0
    mask_type: block4
```
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from recipekit.diagnostics import Severity
from recipekit.lint_rules._context import GRADUAL_PRUNERS, Finding, LintContext
from recipekit.suggest import did_you_mean

CODE = "L313"
NAME = "bad-mask-type"
SEVERITY = Severity.ERROR
KNOWN = ("unstructured", "block4", "tensorrt")


def check(ctx: LintContext) -> Iterator[Finding]:
    for modifier in ctx.of_type(*GRADUAL_PRUNERS):
        mask = modifier.value("mask_type")
        if isinstance(mask, list):
            if len(mask) < 2 or any(not isinstance(v, int) or (v < 1 and v != -1) for v in mask):
                yield Finding(
                    ctx.span_of(modifier, "mask_type"),
                    f"block mask {mask} must be [rows, cols] of positive integers (-1 for a whole dimension)",
                )
            continue
        if mask in KNOWN or re.fullmatch(r"\d+:\d+", str(mask)):
            continue
        if modifier.type == "StructuredPruningModifier" and mask in ("channel", "filter"):
            continue
        if mask in ("channel", "filter"):
            message = f"mask_type {mask} works only with StructuredPruningModifier; SparseML fails when training starts"
        else:
            message = f"unknown mask_type {mask!r}{did_you_mean(str(mask), KNOWN)}; use unstructured, block4, N:M or [rows, cols]"
        yield Finding(ctx.span_of(modifier, "mask_type"), message)
