"""SparseML's constructor-time rewrites, reproduced so values mean the same.

These are the places where the value a modifier *ended up with* differs from
both what the recipe says and the schema default.  Each rule names where
SparseML does it.
"""

from __future__ import annotations

from typing import Any

from recipekit.ir import Param

_DEFAULT_ARGS = {"num_bits": 8, "symmetric": False, "strategy": "tensor", "kwargs": {}}


def _args(value: Any, symmetric_default: bool = False) -> Any:
    if value is None or value == "None":
        return None
    base = dict(_DEFAULT_ARGS, symmetric=symmetric_default)
    base.update(value)
    return base


def quantization_scheme(value: Any) -> dict[str, Any]:
    """quantization_scheme.py: QuantizationScheme with pydantic defaults filled in."""
    default = {
        "input_activations": _args({}),
        "weights": _args({}, symmetric_default=True),
        "output_activations": None,
        "target_hardware": None,
    }
    if value is None or value == "default":
        return default
    if value == "deepsparse":
        return {**default, "target_hardware": "deepsparse"}
    if value == "tensorrt":
        return {**default, "input_activations": _args({"symmetric": True}), "target_hardware": "tensorrt"}
    scheme = dict(default)
    for slot in ("input_activations", "weights", "output_activations"):
        if slot in value:
            # A slot given as a mapping is a fresh QuantizationArgs: symmetric defaults to False.
            scheme[slot] = _args(value[slot])
    if "target_hardware" in value:
        scheme["target_hardware"] = value["target_hardware"]
    return scheme


def apply_quirks(modifier_type: str, flavour: str | None, params: dict[str, Param]) -> dict[str, Param]:
    if modifier_type != "QuantizationModifier":
        return params
    result = dict(params)

    def set_value(name: str, value: Any) -> None:
        result[name] = result[name].with_value(value)

    fuse = result["model_fuse_fn_name"].value
    if isinstance(fuse, str) and fuse.lower() == "none":
        set_value("model_fuse_fn_name", None)
    if flavour == "legacy":
        # legacy_modifier_quantization.py: tensorrt forces no fusing and no output activations.
        if result["tensorrt"].value:
            for name in ("quantize_linear_activations", "quantize_conv_activations", "quantize_embedding_activations"):
                set_value(name, False)
            if fuse is None:
                set_value("model_fuse_fn_name", "no_fuse")
        elif fuse is None:
            set_value("model_fuse_fn_name", "conv_bn_relus")
        return result
    scheme = quantization_scheme(result["scheme"].value)
    set_value("scheme", scheme)
    overrides = result["scheme_overrides"].value or {}
    # Each override is a QuantizationScheme of its own; "default" means the modifier's scheme.
    set_value("scheme_overrides", {name: scheme if value == "default" else quantization_scheme(value) for name, value in overrides.items()})
    if result["ignore"].value is None:
        set_value("ignore", [])
    return result
