"""Compare recipekit's fake-quantizers with SparseML 1.8.0's, as a QAT fixture recorded them.

The QAT fixture topics (qat_fold, attention) record every torch FakeQuantize of SparseML's
prepared model by module name (scripts/sparseml_fixtures/common.py: ``fake_quantizers``);
``check_quantizers`` maps those names to recipekit's ``module/slot`` and compares observer
min/max, scale and zero point through the topic's ``fixture_compare`` helper.
"""

from __future__ import annotations

from typing import Any

from tests import fixture_compare

#: SparseML's FakeQuantize name suffix -> recipekit's slot, first match wins.
_SUFFIXES = (
    (".input_quant_stubs.0.activation_post_process", "/input"),  # QATWrapper (QATMatMul): left operand
    (".input_quant_stubs.1.activation_post_process", "/right"),  # its right operand
    (".output_quant_stubs.0.activation_post_process", "/output"),
    (".quant.activation_post_process", "/input"),  # QuantWrapper's input
    (".module.weight_fake_quant", "/weight"),
    (".module.activation_post_process", "/output"),  # a wrapped (or fused) module's output
    (".weight_fake_quant", "/weight"),  # a QAT Embedding
    (".activation_post_process", "/output"),  # a leaf torch's prepare_qat observed; a FloatFunctional's result
)


def sparseml_key(name: str) -> str:
    """SparseML's FakeQuantize module name as recipekit's ``module/slot``."""
    for theirs, ours in _SUFFIXES:
        if name.endswith(theirs):
            return name[: -len(theirs)] + ours
    raise AssertionError(f"no recipekit slot for SparseML's {name!r}")


def check_quantizers(fix: fixture_compare.Topic, runner: Any, theirs: dict[str, dict[str, Any]], where: str) -> None:
    """The same quantizers, each with the same observer range, scale and integer grid."""
    mine = {f"{m.name}/{slot}": q for m in runner.quantization.modules for slot, q in m.quantizers().items()}
    assert sorted(mine) == sorted(sparseml_key(k) for k in theirs), where
    for key, expected in theirs.items():
        quantizer = mine[sparseml_key(key)]
        assert quantizer.observed == expected["observed"], (where, key)
        if not expected["observed"]:
            continue
        fix.floats(quantizer.min_val, expected["min"], (where, key, "min"))
        fix.floats(quantizer.max_val, expected["max"], (where, key, "max"))
        scale, zero_point = quantizer.qparams()
        fix.floats(scale.reshape(expected["scale"].shape), expected["scale"], (where, key, "scale"))
        # The same integer grid: where torch's dtype is int8 and recipekit's uint8 (or torch's quint8
        # symmetric zero point is 128 and recipekit's int8 one 0), the zero point is shifted by the range's start.
        low, high = quantizer.args.bounds
        assert high - low == expected["quant_max"] - expected["quant_min"], (where, key, "range")
        shifted = zero_point.reshape(expected["zero_point"].shape) - low
        fix.exact(shifted, expected["zero_point"] - expected["quant_min"], (where, key, "zero point"))
