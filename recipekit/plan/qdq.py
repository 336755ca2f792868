"""Which fake-quantization settings ONNX QuantizeLinear/DequantizeLinear (QDQ) can express.

Standard library only: the lint rule (L336) and the exporter share these rules.
ONNX's QuantizeLinear stores uint8 or int8, and torch's ONNX exporters (both the
dynamo one and the legacy TorchScript one) accept only the (quant_min, quant_max)
pairs (0, 255), (-128, 127) and (0, 127); (0, 127) is uint8 with a Clip. A 4-bit,
16-bit, narrow-range (-127, 127) or reduced-range symmetric (-64, 63) quantizer
trains in torch but cannot be written as QDQ (ecosystem.md §4.1).
"""

from __future__ import annotations

#: (quant_min, quant_max) pairs torch's exporters turn into QuantizeLinear/DequantizeLinear.
EXPORTABLE_RANGES = frozenset({(0, 255), (-128, 127), (0, 127)})


def bounds(num_bits: int, symmetric: bool, reduce_range: bool = False) -> tuple[int, int]:
    """The integer range of a quantizer, by torch's rule (reduce_range drops one bit)."""
    bits = num_bits - 1 if reduce_range else num_bits
    if symmetric:
        return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    return 0, 2**bits - 1


def range_problem(num_bits: int, symmetric: bool, reduce_range: bool = False) -> str | None:
    """Why this quantizer cannot be exported as QDQ, or None when it can."""
    low, high = bounds(num_bits, symmetric, reduce_range)
    if (low, high) in EXPORTABLE_RANGES:
        return None
    what = f"{num_bits}-bit {'symmetric' if symmetric else 'asymmetric'}{' with reduce_range' if reduce_range else ''}"
    return f"{what} quantization uses the integer range [{low}, {high}]; ONNX QDQ holds only [0, 255], [-128, 127] and [0, 127]"


def per_channel_activation_problem() -> str:
    # The runtime (like torch's per-channel observers) quantizes per index of dimension 0, which
    # for an activation is the batch: the scales would be baked in for one batch size.
    return "per-channel (strategy: channel) activation quantization keeps one scale per sample of the batch; ONNX QDQ cannot express it"
