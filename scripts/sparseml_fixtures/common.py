"""Helpers shared by the fixture topics: deterministic CPU torch, the QConfig workaround, a step loop."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch


def deterministic() -> None:
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)


def patch_qconfig() -> None:
    """torch 2.13's QConfig has ``__slots__ = ()`` and SparseML sets an attribute on it (algorithms reference, end)."""
    import torch.ao.quantization as aoq
    import torch.ao.quantization.qconfig as qconfig_module

    original = qconfig_module.QConfig
    if "__slots__" not in vars(original) or getattr(original, "_recipekit_patched", False):
        return

    class QConfig(original):  # type: ignore[misc,valid-type]
        _recipekit_patched = True

    for module in (aoq, qconfig_module, torch.quantization):
        if getattr(module, "QConfig", None) is original:
            module.QConfig = QConfig


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def qat_recipe(epochs: int, body: str) -> str:
    """An EpochRangeModifier over ``epochs`` and a QuantizationModifier whose indented keys are ``body``."""
    return f"modifiers:\n  - !EpochRangeModifier\n    start_epoch: 0.0\n    end_epoch: {float(epochs)}\n  - !QuantizationModifier\n{body}"


def fake_quantizers(model: torch.nn.Module) -> dict[str, dict[str, Any]]:
    """Every torch FakeQuantize of a SparseML-prepared model, by module name: scale, zero point, range, observer min/max."""
    found = {}
    for name, module in model.named_modules():
        if type(module).__name__ != "FakeQuantize":
            continue
        observer: Any = module.activation_post_process
        found[name] = {
            "scale": module.scale.clone(),
            "zero_point": module.zero_point.clone(),
            "quant_min": int(module.quant_min),
            "quant_max": int(module.quant_max),
            "min": observer.min_val.clone(),
            "max": observer.max_val.clone(),
            "observed": bool(torch.isfinite(observer.min_val).all()),
        }
    return found
