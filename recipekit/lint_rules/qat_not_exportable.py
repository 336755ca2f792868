"""A QuantizationModifier scheme that trains but cannot be exported to ONNX QDQ.

ONNX QuantizeLinear/DequantizeLinear store uint8 or int8, and torch's ONNX
exporters accept only the integer ranges [0, 255], [-128, 127] and [0, 127].
Bit widths other than 8 (a 7-bit asymmetric quantizer is [0, 127], the one
exception), symmetric quantizers with `reduce_range` ([-64, 63]) and per-channel
activations (one scale per sample of the batch) train in the runtime, but
`recipekit.export.to_onnx` refuses the model after training. Use 8 bits, and
`strategy: tensor` for activations.

Bad:

```yaml
modifiers:
  - !QuantizationModifier
    start_epoch: 0.0
    scheme:
      weights: {num_bits: 4, symmetric: true}
```

Good:

```yaml
modifiers:
  - !QuantizationModifier
    start_epoch: 0.0
    scheme:
      weights: {num_bits: 8, symmetric: true}
```
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from recipekit.diagnostics import Severity
from recipekit.ir import Modifier
from recipekit.lint_rules._context import Finding, LintContext
from recipekit.plan import qdq

CODE = "L336"
NAME = "qat-not-exportable"
SEVERITY = Severity.WARNING

_SLOTS = ("input_activations", "weights", "output_activations")
_AFTER = "; it trains, but recipekit.export cannot write it to ONNX"


def check(ctx: LintContext) -> Iterator[Finding]:
    for modifier in ctx.of_type("QuantizationModifier"):
        if modifier.flavour == "legacy":
            yield from _legacy(ctx, modifier)
        else:
            yield from _scheme(ctx, modifier, "scheme", "", modifier.value("scheme"))
            overrides = modifier.value("scheme_overrides") or {}
            if isinstance(overrides, dict):
                for target, scheme in overrides.items():
                    yield from _scheme(ctx, modifier, "scheme_overrides", f"scheme_overrides[{target}] ", scheme)


def _scheme(ctx: LintContext, modifier: Modifier, param: str, label: str, scheme: Any) -> Iterator[Finding]:
    if not isinstance(scheme, dict):
        return
    for slot in _SLOTS:
        args = scheme.get(slot)
        if not isinstance(args, dict):
            continue
        kwargs = args.get("kwargs")
        kwargs = kwargs if isinstance(kwargs, dict) else {}
        problem = _problem(args.get("num_bits", 8), bool(args.get("symmetric")), bool(kwargs.get("reduce_range")))
        if problem is None and slot != "weights" and args.get("strategy") == "channel":
            problem = qdq.per_channel_activation_problem()
        if problem is not None:
            yield Finding(ctx.span_of(modifier, param), f"{label}{slot}: {problem}{_AFTER}")
            return  # one finding per scheme


def _legacy(ctx: LintContext, modifier: Modifier) -> Iterator[Finding]:
    weight_kwargs = modifier.value("weight_qconfig_kwargs") or {}
    activation_kwargs = modifier.value("activation_qconfig_kwargs") or {}
    if not isinstance(weight_kwargs, dict) or not isinstance(activation_kwargs, dict):
        return
    # As the runtime reads them (runtime/qat.py, _legacy_flavour): weights symmetric, activations
    # symmetric only under tensorrt; reduce_range from the modifier, overridden by the kwargs.
    weights = _problem(modifier.value("weight_bits"), True, bool(weight_kwargs.get("reduce_range")))
    if weights is not None:
        name = "weight_bits" if modifier.value("weight_bits") != 8 else "weight_qconfig_kwargs"
        yield Finding(ctx.span_of(modifier, name), f"weights: {weights}{_AFTER}")
    reduce_range = bool(activation_kwargs.get("reduce_range", modifier.value("reduce_range")))
    activations = _problem(modifier.value("activation_bits"), bool(modifier.value("tensorrt")), reduce_range)
    if activations is not None:
        if modifier.value("activation_bits") != 8:
            name = "activation_bits"
        else:
            name = "activation_qconfig_kwargs" if "reduce_range" in activation_kwargs else "reduce_range"
        yield Finding(ctx.span_of(modifier, name), f"activations: {activations}{_AFTER}")


def _problem(num_bits: Any, symmetric: bool, reduce_range: bool) -> str | None:
    if not isinstance(num_bits, int) or isinstance(num_bits, bool) or not 1 <= num_bits <= 32:
        return None  # the schema (or the runtime) reports a value that is not a bit count
    return qdq.range_problem(num_bits, symmetric, reduce_range)
