"""The post-export check: onnxruntime against torch, and which int8 kernels onnxruntime fused.

The bound (docs/export.md, "The check's bound"): the file holds torch's own integers,
scales, zero points and folded biases, so onnxruntime and torch run the same arithmetic
in a different floating-point order. One quantizer given inputs that differ by float noise
returns the same integer except where its input lies on a rounding boundary (a tie); a tie
changes the next layers' inputs by one step, and through a deep network such changes add up
(measured: a 20-convolution ResNet ends with 2-5% of outputs more than one output step off).
So the check runs onnxruntime with torch's integers fed in at every activation quantizer
(``forced``): each stretch between two quantizers then starts from the same integers on both
sides, and
  - each quantizer's integers must equal torch's, or differ by one where torch's value lies
    within ``TIE_STEPS`` of a rounding boundary;
  - each output must be within one output quantization step (plus float slack) of torch's,
    everywhere.
An fp32 export must match to 1e-5 (relative and absolute). Anything else is a wrong export.

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
#: Fraction of output elements that must lie within one output quantization step (torch's integers fed in upstream).
QUANTIZED_FRACTION = 1.0
#: How near (in steps) a rounding boundary torch's value must be for onnxruntime's integer to differ by one.
#: onnxruntime's int8 kernels accumulate exactly in int32; torch accumulates the same products in float32,
#: whose error is about sqrt(K) * 2^-24 * sum|w x| for K terms (at most K times that), and the int8
#: kernel rounds the bias to the s_x * s_w grid (half of s_x * s_w / s_y steps). Measured: at most
#: 0.0002 steps on ResNet-18 (224x224, per-channel), 0.0006 on the test models; 0.1 leaves room for
#: cancelling sums. A wrong scale or zero point moves integers wherever the value falls, mostly far
#: from a boundary.
TIE_STEPS = 0.1
#: Tolerance of an fp32 (not quantized) export, relative and absolute.
FP32_TOLERANCE = 1e-5
#: Float slack added to one quantization step: accumulation order, relative to the output's magnitude.
FLOAT_SLACK = 1e-5


@dataclass(frozen=True)
class OutputCheck:
    """How one output of onnxruntime compares with torch's."""

    index: int
    step: float  # one output quantization step (0 for an fp32 export; 1 for a quantizer's integers)
    step_source: str  # "output DequantizeLinear scale", "8-bit step of the output range", "fp32" or "integers"
    max_abs_diff: float
    within: float  # fraction of elements within the bound (a quantizer: equal to torch's)
    passed: bool
    #: A quantizer: the QuantizeLinear's scale initializer; an output: "".
    name: str = ""
    #: A quantized output: the fraction within one step when onnxruntime runs on its own (no integers fed in).
    end_to_end: float | None = None
    #: A quantizer: how far from a rounding boundary (in steps) torch's value was, at worst, where the integers differ.
    tie_distance: float = 0.0


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
    outputs, nodes = run_nodes(path, inputs)
    kernels: dict[str, int] = {}
    for op, _ in nodes:
        kernels[op] = kernels.get(op, 0) + 1
    return outputs, kernels


def run_nodes(path: Path, inputs: Sequence[np.ndarray[Any, Any]]) -> tuple[list[np.ndarray[Any, Any]], list[tuple[str, list[str]]]]:
    """onnxruntime's outputs on ``inputs`` and the int8 kernel nodes (op, input names) of its optimised graph."""
    with tempfile.TemporaryDirectory() as scratch:
        optimized = Path(scratch) / "optimized.onnx"
        sess = session(path, optimized)
        feeds = {arg.name: value for arg, value in zip(sess.get_inputs(), inputs, strict=True)}
        outputs = sess.run(None, feeds)
        nodes = [
            (node.op_type, list(node.input))
            for node in onnx.load(str(optimized), load_external_data=False).graph.node
            if node.op_type in INT8_KERNELS
        ]
    return [np.asarray(out) for out in outputs], nodes


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


@dataclass(frozen=True)
class Forced:
    """An activation QuantizeLinear whose output onnxruntime is fed from torch (``record``: reference.Recorded)."""

    output: str  # the QuantizeLinear's output tensor
    scale_name: str
    record: Any


def activation_quantizers(model: onnx.ModelProto) -> list[tuple[onnx.NodeProto, float, int]]:
    """QuantizeLinear nodes of activations (not of constant weights) with a constant per-tensor scale and zero point, in graph order."""
    initializers = {init.name: init for init in model.graph.initializer}
    graph_outputs = {out.name for out in model.graph.output}
    found = []
    for node in model.graph.node:
        if node.op_type != "QuantizeLinear" or node.input[0] in initializers or node.output[0] in graph_outputs:
            continue
        if node.input[1] not in initializers or len(node.input) < 3 or node.input[2] not in initializers:
            continue
        scale = numpy_helper.to_array(initializers[node.input[1]])
        zero_point = numpy_helper.to_array(initializers[node.input[2]])
        if scale.size != 1 or zero_point.size != 1:
            continue
        found.append((node, float(scale.reshape(())), int(zero_point.reshape(()))))
    return found


def match(model: onnx.ModelProto, records: Sequence[Any]) -> tuple[list[Forced], int]:
    """Pair torch's quantizer calls with the file's activation QuantizeLinears by (scale, zero point), in order.

    Consecutive calls on the same values count once. A (scale, zero point) whose number of calls still
    differs from its number of nodes is left unpaired (onnxruntime computes those itself). Returns the
    pairs and the number of nodes left unpaired."""
    nodes: dict[tuple[float, int], list[onnx.NodeProto]] = {}
    for node, scale, zero_point in activation_quantizers(model):
        nodes.setdefault((scale, zero_point), []).append(node)
    calls: dict[tuple[float, int], list[Any]] = {}
    for record in records:
        calls.setdefault((float(record.scale), int(record.zero_point)), []).append(record)
    forced, unpaired = [], 0
    for key, group in nodes.items():
        records = calls.get(key, [])
        if len(records) != len(group):
            # Two quantizers of one tensor (a ResNet block's conv1 and downsample) observe the same range,
            # so they have the same scale; the exporter writes their QuantizeLinears as one node.
            records = [r for i, r in enumerate(records) if i == 0 or not _same(r, records[i - 1])]
        if len(records) != len(group):
            unpaired += len(group)
            continue
        forced += [Forced(node.output[0], node.input[1], record) for node, record in zip(group, records, strict=True)]
    return forced, unpaired


def _same(a: Any, b: Any) -> bool:
    return bool(a.integers.shape == b.integers.shape and np.array_equal(a.integers, b.integers) and np.array_equal(a.steps, b.steps))


def run_forced(
    model: onnx.ModelProto, inputs: Sequence[np.ndarray[Any, Any]], forced: Sequence[Forced]
) -> tuple[list[np.ndarray[Any, Any]], list[np.ndarray[Any, Any]]]:
    """onnxruntime's outputs, and its integers at each forced QuantizeLinear, with torch's integers fed in after each.

    Each forced QuantizeLinear's output becomes a graph output of its own, and the tensor its
    DequantizeLinear reads becomes a graph input: onnxruntime still fuses DQ -> op -> Q groups."""
    cut = onnx.ModelProto()
    cut.CopyFrom(model)
    renamed = {f.output: f.output + "__onnxruntime" for f in forced}
    for node in cut.graph.node:
        if node.op_type == "QuantizeLinear" and node.output[0] in renamed:
            node.output[0] = renamed[node.output[0]]
    originals = [out.name for out in cut.graph.output]
    feeds_extra = {}
    for f in forced:
        dtype = np.int8 if f.record.signed else np.uint8
        elem = onnx.TensorProto.INT8 if f.record.signed else onnx.TensorProto.UINT8
        cut.graph.output.append(onnx.helper.make_tensor_value_info(renamed[f.output], elem, None))
        cut.graph.input.append(onnx.helper.make_tensor_value_info(f.output, elem, list(f.record.integers.shape)))
        feeds_extra[f.output] = f.record.integers.astype(dtype)
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    options.log_severity_level = 3
    sess = ort.InferenceSession(cut.SerializeToString(), options, providers=["CPUExecutionProvider"])
    names = [arg.name for arg in sess.get_inputs() if arg.name not in feeds_extra]
    feeds = dict(zip(names, inputs, strict=True)) | feeds_extra
    results = sess.run(originals + [renamed[f.output] for f in forced], feeds)
    return [np.asarray(r) for r in results[: len(originals)]], [np.asarray(r) for r in results[len(originals) :]]


def compare_quantizers(forced: Sequence[Forced], got: Sequence[np.ndarray[Any, Any]]) -> list[OutputCheck]:
    """Per forced quantizer: onnxruntime's integers against torch's (differing by one only at a rounding tie)."""
    checks = []
    for index, (f, integers) in enumerate(zip(forced, got, strict=True)):
        want = f.record.integers.astype(np.int64)
        diff = np.abs(integers.astype(np.int64) - want) if integers.shape == want.shape else np.full(want.shape, 1 << 30)
        # A tie: torch's value lies within TIE_STEPS of the half-way point between two integers.
        distance = np.abs(np.abs(f.record.steps - np.floor(f.record.steps)) - 0.5)
        ok = (diff == 0) | ((diff == 1) & (distance <= TIE_STEPS))
        within = float((diff == 0).mean()) if diff.size else 1.0
        max_diff = float(diff.max()) if diff.size else 0.0
        worst = float(distance[diff != 0].max()) if (diff != 0).any() else 0.0
        checks.append(OutputCheck(index, 1.0, "integers", max_diff, within, bool(ok.all()), name=f.scale_name, tie_distance=worst))
    return checks
