"""L336: QAT schemes that train but cannot be exported as ONNX QDQ (no torch needed)."""

from __future__ import annotations

import pytest

from recipekit.plan import qdq
from tests.test_rule_docs import lint

HEAD = "modifiers:\n  - !QuantizationModifier\n    start_epoch: 0.0\n"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("    scheme:\n      weights: {num_bits: 4, symmetric: true}\n", [(5, 7, "L336")]),
        ("    scheme_overrides:\n      classifier:\n        input_activations: {strategy: channel}\n", [(5, 7, "L336")]),
        ("    scheme:\n      output_activations: {num_bits: 16}\n", [(5, 7, "L336")]),
        ("    scheme: tensorrt\n", []),
        ("    scheme:\n      input_activations: {num_bits: 7}\n", []),  # [0, 127]: exportable (uint8 with a Clip)
        ("    weight_bits: 4\n    reduce_range: true\n", [(4, 18, "L336")]),  # asymmetric reduce_range alone is [0, 127]
        ("    weight_qconfig_kwargs: {reduce_range: true}\n", [(4, 28, "L336")]),  # symmetric reduce_range: [-64, 63]
        ("    activation_bits: 8\n    tensorrt: true\n    activation_qconfig_kwargs: {reduce_range: true}\n", [(6, 32, "L336")]),
    ],
)
def test_unexportable_schemes_warn_at_their_position(body: str, expected: list[tuple[int, int, str]]) -> None:
    assert [f for f in lint(HEAD + body, "L336") if f[2] == "L336"] == expected


def test_exportable_ranges_are_torchs_three() -> None:
    assert qdq.range_problem(8, True) is None and qdq.range_problem(8, False) is None and qdq.range_problem(8, False, True) is None
    assert qdq.range_problem(8, True, True) == (
        "8-bit symmetric with reduce_range quantization uses the integer range [-64, 63]; "
        "ONNX QDQ holds only [0, 255], [-128, 127] and [0, 127]"
    )
