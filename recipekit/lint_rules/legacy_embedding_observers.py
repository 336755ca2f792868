"""Legacy QAT whose Embedding observers keep running after disable_quantization_observer_epoch.

SparseML's legacy QuantizationModifier (chosen when the recipe uses legacy keys such as
`submodules`) fake-quantizes Embedding weights with quantizers that ignore `disable_observer`:
their ranges keep moving after `disable_quantization_observer_epoch`, so the quantization
parameters a model ends with are not the ones frozen at that epoch. recipekit's runtime
reproduces this; set `quantize_embeddings: false` or freeze the embeddings otherwise if that is
not wanted. Needs a parameter manifest (`--params`) to know where the Embedding layers are.

Parameters: bert.embeddings.word_embeddings.weight [100, 8] Embedding, bert.encoder.dense.weight [8, 8] Linear

Bad:

```yaml
modifiers:
  - !QuantizationModifier
    start_epoch: 0.0
    submodules: [bert.embeddings, bert.encoder]
    disable_quantization_observer_epoch: 2.0
```

Good:

```yaml
modifiers:
  - !QuantizationModifier
    start_epoch: 0.0
    submodules: [bert.encoder]
    disable_quantization_observer_epoch: 2.0
```
"""

from __future__ import annotations

from collections.abc import Iterator

from recipekit.diagnostics import Severity
from recipekit.lint_rules._context import Finding, LintContext

CODE = "L335"
NAME = "legacy-embedding-observers"
SEVERITY = Severity.WARNING


def check(ctx: LintContext) -> Iterator[Finding]:
    if ctx.params is None:
        return
    for modifier in ctx.of_type("QuantizationModifier"):
        if modifier.flavour != "legacy" or modifier.value("disable_quantization_observer_epoch") is None:
            continue
        if not modifier.value("quantize_embeddings") or "Embedding" in (modifier.value("exclude_module_types") or []):
            continue
        roots = [r.removeprefix("module.") for r in modifier.value("submodules") or [""]]
        embeddings = [
            p["name"]
            for p in ctx.params
            if p.get("module_type") == "Embedding" and any(r == "" or p["name"].removeprefix("module.").startswith(r + ".") for r in roots)
        ]
        if embeddings:
            yield Finding(
                ctx.span_of(modifier, "disable_quantization_observer_epoch"),
                f"the observers of {len(embeddings)} Embedding weight{'s' if len(embeddings) != 1 else ''} ({embeddings[0]}) keep "
                "updating after this epoch in SparseML's legacy QAT; set quantize_embeddings: false if they should freeze",
            )
