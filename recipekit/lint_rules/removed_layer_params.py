"""A modifier selects, by exact name, parameters inside a layer that LayerPruningModifier removes.

SparseML initialised modifiers in its manager order (end epoch, start epoch, class name).
A modifier initialised before the LayerPruningModifier keeps the removed layer's
parameters and changes weights that no forward pass uses; one initialised after a
removal at `start_epoch` 0 or -1 does not find them, and fails when it finds nothing
else. The recipekit runtime reproduces both (and `attach` says which). Select the
parameters of the layers that stay, or keep the layer.

Bad:

```yaml
modifiers:
  - !LayerPruningModifier
    layers: [encoder.layer.3]
  - !GMPruningModifier
    params: [encoder.layer.2.dense.weight, encoder.layer.3.dense.weight]
    init_sparsity: 0.05
    final_sparsity: 0.8
    start_epoch: 0.0
    end_epoch: 10.0
    update_frequency: 1.0
```

Good:

```yaml
modifiers:
  - !LayerPruningModifier
    layers: [encoder.layer.3]
  - !GMPruningModifier
    params: [encoder.layer.2.dense.weight]
    init_sparsity: 0.05
    final_sparsity: 0.8
    start_epoch: 0.0
    end_epoch: 10.0
    update_frequency: 1.0
```
"""

from __future__ import annotations

from collections.abc import Iterator

from recipekit.compiler.refusals import span_of, written_patterns
from recipekit.diagnostics import Severity
from recipekit.lint_rules._context import Finding, LintContext

CODE = "L384"
NAME = "removed-layer-params"
SEVERITY = Severity.WARNING


def check(ctx: LintContext) -> Iterator[Finding]:
    removers = [m for m in ctx.recipe.modifiers if m.type == "LayerPruningModifier"]
    for remover in removers:
        layers = remover.value("layers")
        names = [layers] if isinstance(layers, str) else list(layers)
        prefixes = tuple(f"{name}." for name in names if isinstance(name, str) and not name.startswith("__"))
        if not prefixes:
            continue
        for modifier in ctx.recipe.modifiers:
            if modifier is remover or ("params" not in modifier.params and "final_sparsity" not in modifier.params):
                continue
            for pattern in written_patterns(modifier):
                if isinstance(pattern, str) and not pattern.startswith(("re:", "__")) and pattern.startswith(prefixes):
                    where = "final_sparsity" if "params" not in modifier.params or modifier.value("params") == [] else "params"
                    span = ctx.recipe.source.item_span(span_of(modifier, where), pattern)
                    message = (
                        f"{pattern} is inside a layer the LayerPruningModifier removes: pruned though no forward uses it, "
                        "or not found at all, depending on which modifier SparseML initialised first"
                    )
                    yield Finding(span, message, (("the LayerPruningModifier", remover.span),))
