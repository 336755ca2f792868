"""The post-export check: onnxruntime against torch, and which int8 kernels onnxruntime fused.

The bound (docs/export.md, "The check's bound"): the file holds torch's own integers,
scales, zero points and folded biases, so onnxruntime and torch run the same arithmetic
in a different floating-point order. Two evaluations of one quantizer whose inputs differ
by less than its step differ by at most that step, and only where a rounding boundary lies
between them. The check therefore accepts a quantized export when at least 99% of output
elements are within one output quantization step (plus float slack) of torch's; an fp32
export must match to 1e-5 (relative and absolute). Anything else is a wrong export.

Imports onnx, onnxruntime and numpy: only imported when an export is checked.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper

#: Operators of onnxruntime's integer kernels (after its graph optimisation).
INT8_KERNELS = ("QLinearConv", "QGemm", "MatMulInteger", "QLinearMatMul", "MatMulIntegerToFloat", "ConvInteger", "DynamicQuantizeMatMul")
#: Fraction of output elements that must lie within one output quantization step.
QUANTIZED_FRACTION = 0.99
#: Tolerance of an fp32 (not quantized) export, relative and absolute.
FP32_TOLERANCE = 1e-5
#: Float slack added to one quantization step: accumulation order, relative to the output's magnitude.
FLOAT_SLACK = 1e-5


@dataclass(frozen=True)
class OutputCheck:
    """How one output of onnxruntime compares with torch's."""

    index: int
    step: float  # one output quantization step (0 for an fp32 export)
    step_source: str  # "output DequantizeLinear scale", "8-bit step of the output range" or "fp32"
    max_abs_diff: float
    within: float  # fraction of elements within the bound
    passed: bool


def session(path: Path, optimized: Path | None = None) -> Any:
    options = ort.SessionOptions()
    # EXTENDED is the level at which onnxruntime fuses QDQ groups into int8 kernels (ecosystem.md §4.2);
    # ALL adds only hardware-specific layout changes.
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    options.log_severity_level = 3
    if optimized is not None:
        options.optimized_model_filepath = str(optimized)
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def run(path: Path, inputs: Sequence[np.ndarray[Any, Any]]) -> tuple[list[np.ndarray[Any, Any]], dict[str, int]]:
    """onnxruntime's outputs on ``inputs`` and the int8 kernels in its optimised graph."""
    with tempfile.TemporaryDirectory() as scratch:
        optimized = Path(scratch) / "optimized.onnx"
        sess = session(path, optimized)
        feeds = {arg.name: value for arg, value in zip(sess.get_inputs(), inputs, strict=True)}
        outputs = sess.run(None, feeds)
        kernels: dict[str, int] = {}
        for node in onnx.load(str(optimized), load_external_data=False).graph.node:
            if node.op_type in INT8_KERNELS:
                kernels[node.op_type] = kernels.get(node.op_type, 0) + 1
    return [np.asarray(out) for out in outputs], kernels


def output_steps(model: onnx.ModelProto) -> list[float | None]:
    """Per graph output: the scale of the DequantizeLinear producing it, if one does."""
    producers = {out: node for node in model.graph.node for out in node.output}
    initializers = {init.name: init for init in model.graph.initializer}
    steps: list[float | None] = []
    for output in model.graph.output:
        node = producers.get(output.name)
        if node is not None and node.op_type == "DequantizeLinear" and node.input[1] in initializers:
            steps.append(float(np.max(numpy_helper.to_array(initializers[node.input[1]]))))
        else:
            steps.append(None)
    return steps


def compare(
    expected: Sequence[np.ndarray[Any, Any]], actual: Sequence[np.ndarray[Any, Any]], steps: Sequence[float | None], quantized: bool
) -> list[OutputCheck]:
    checks = []
    for index, (want, got, output_step) in enumerate(zip(expected, actual, steps, strict=True)):
        want64, got64 = want.astype(np.float64), got.astype(np.float64)
        diff = np.abs(want64 - got64)
        max_diff = float(diff.max()) if diff.size else 0.0
        if not quantized:
            ok = np.abs(diff) <= FP32_TOLERANCE + FP32_TOLERANCE * np.abs(want64)
            within = float(ok.mean()) if ok.size else 1.0
            checks.append(OutputCheck(index, 0.0, "fp32", max_diff, within, within == 1.0))
            continue
        if output_step is not None:
            step, source = output_step, "output DequantizeLinear scale"
        else:
            # A float output: the step an 8-bit quantizer observing this output's range would have.
            step = float(want64.max() - want64.min()) / 255 if want64.size else 0.0
            source = "8-bit step of the output range"
        slack = FLOAT_SLACK * (float(np.abs(want64).max()) if want64.size else 0.0) + FLOAT_SLACK
        ok = diff <= step + slack
        within = float(ok.mean()) if ok.size else 1.0
        checks.append(OutputCheck(index, step, source, max_diff, within, within >= QUANTIZED_FRACTION))
    return checks
