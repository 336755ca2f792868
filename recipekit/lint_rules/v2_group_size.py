"""A v2 quantization group size that does not divide a targeted layer's input dimension.

Group quantization splits each weight row (the input dimension) into groups of
`group_size` columns; the kernels that run such checkpoints (vLLM's Marlin,
Machete) need the input dimension to be a multiple of it.  With a manifest that
has shapes (`--params`), recipe-lint checks every targeted `Linear`.

Parameters: model.layers.0.mlp.down_proj.weight [64, 200] Linear, model.layers.0.mlp.up_proj.weight [200, 64] Linear

Bad:

```yaml
quant_stage:
  quant_modifiers:
    GPTQModifier:
      config_groups:
        group_0:
          targets: [Linear]
          weights: {num_bits: 4, type: int, symmetric: true, strategy: group, group_size: 128}
```

Good:

```yaml
quant_stage:
  quant_modifiers:
    GPTQModifier:
      config_groups:
        group_0:
          targets: [Linear]
          weights: {num_bits: 4, type: int, symmetric: true, strategy: group, group_size: 8}
```
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from recipekit.compiler.yaml_tree import Map, Node, Scalar
from recipekit.diagnostics import Severity
from recipekit.lint_rules import _v2
from recipekit.lint_rules._context import Finding, LintContext
from recipekit.lint_rules.v2_unmatched_targets import matches

CODE = "L378"
NAME = "v2-group-size"
SEVERITY = Severity.ERROR
COMPILE = "—"
COMPILE_NOTE = "a v2 recipe has no plan: `recipekit compile` refuses every v2 recipe (C415)"
#: Group sizes of the group-wise presets (compressed-tensors' PRESET_SCHEMES).
PRESET_GROUPS = {"W4A16": 128, "W4A16_ASYM": 128, "NVFP4": 16, "NVFP4A16": 16, "MXFP4": 32, "MXFP4A16": 32}


def _weights(layers: list[dict[str, Any]], targets: list[str]) -> list[dict[str, Any]]:
    return [p for p in layers if any(matches(t, {p["name"].rpartition(".")[0]: p.get("module_type") or ""}) for t in targets)]


def _targets(node: Node | None) -> list[str]:
    return [str(s.value) for s in _v2.strings(node)] if node is not None else ["Linear"]


def check(ctx: LintContext) -> Iterator[Finding]:
    if ctx.params is None:
        return
    layers = [p for p in ctx.params if p["name"].endswith(".weight") and len(p.get("shape") or []) == 2]
    for modifier in _v2.modifiers(ctx):
        scheme = modifier.arg("scheme")
        if scheme is not None and isinstance(scheme[1], Scalar) and str(scheme[1].value).upper() in PRESET_GROUPS:
            size = PRESET_GROUPS[str(scheme[1].value).upper()]
            targets = modifier.arg("targets")
            yield from _check(layers, _targets(targets[1] if targets else None), size, scheme[1], f"preset {scheme[1].text}")
        groups = modifier.arg("config_groups")
        if groups is None or not isinstance(groups[1], Map):
            continue
        for _, group in groups[1].entries:
            weights = group.get("weights") if isinstance(group, Map) else None
            size_node = weights.get("group_size") if isinstance(weights, Map) else None
            if isinstance(size_node, Scalar) and isinstance(size_node.value, int) and size_node.value > 0:
                assert isinstance(group, Map)
                yield from _check(layers, _targets(group.get("targets")), size_node.value, size_node, "group_size")


def _check(layers: list[dict[str, Any]], targets: list[str], size: int, node: Scalar, what: str) -> Iterator[Finding]:
    bad = [p for p in _weights(layers, targets) if p["shape"][1] % size]
    if bad:
        first = bad[0]
        more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
        yield Finding(
            node.span,
            f"{what} groups {size} input columns, but {first['name']} has {first['shape'][1]} input columns, not a multiple "
            f"of {size}{more}: the group-quantization kernels cannot run it. Use a group size that divides every targeted "
            "layer's input dimension, or `ignore` those layers",
        )
