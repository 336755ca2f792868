"""Post-processing of the exported ONNX graph: int8 weight initializers, the name map, counts.

Imports onnx (and numpy), so it is only imported when an export runs.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import onnx
from onnx import numpy_helper

from recipekit.export.prepare import Prepared, QuantizedWeight

#: The metadata key holding the initializer name -> origin map (JSON).
NAME_MAP_KEY = "recipekit.name_map"


def fold_weight_quantizers(model: onnx.ModelProto, prepared: Prepared) -> list[str]:
    """Replace each ``fp32 weight -> QuantizeLinear`` by the weight's integers as an int8/uint8 initializer.

    The integers are torch's own (``Prepared.weights``), not recomputed by ONNX's rounding, so the
    file holds exactly the values training fake-quantized. Returns the weights it folded.
    """
    graph = model.graph
    initializers = {init.name: init for init in graph.initializer}
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    folded: list[str] = []
    removed: list[onnx.NodeProto] = []
    for node in graph.node:
        if node.op_type != "QuantizeLinear" or node.input[0] not in prepared.weights or node.input[0] not in initializers:
            continue
        weight = prepared.weights[node.input[0]]
        users = consumers.get(node.output[0], [])
        if not users or any(user.op_type != "DequantizeLinear" for user in users) or len(consumers.get(node.input[0], [])) != 1:
            continue  # shared or unusual: leave the Q/DQ pair as exported
        qparams = _constant_qparams(graph, node, weight, initializers)
        if qparams is not None:
            for name, part in zip(qparams, ("scale", "zero_point"), strict=True):
                prepared.origins[name] = {"parameter": weight.parameter, "role": f"weight {part}"}
        # The integers take the weight's own name; QuantizeLinear goes.
        initializers[node.input[0]].CopyFrom(numpy_helper.from_array(weight.integers.numpy(), node.input[0]))
        for user in users:
            user.input[0] = node.input[0]
            if qparams is not None:
                del user.input[1:]
                user.input.extend(qparams)
        removed.append(node)
        folded.append(weight.parameter)
    for node in removed:
        graph.node.remove(node)
    return folded


def _constant_qparams(
    graph: onnx.GraphProto, node: onnx.NodeProto, weight: QuantizedWeight, initializers: dict[str, onnx.TensorProto]
) -> tuple[str, str] | None:
    """None when the exported scale and zero point are constants of the right dtype; else initializers we write.

    onnxscript's constant folding stops at 8192 elements, so a per-channel weight with more output
    channels (a BERT vocabulary, an LM head) keeps its zero point's int32 -> int8 Cast as a node;
    onnxruntime fuses only constant zero points, so the file gets torch's own values instead."""
    expected = np.int8 if weight.integers.dtype.is_signed else np.uint8
    scale = _constant(graph, node.input[1])
    zero_point = _constant(graph, node.input[2]) if len(node.input) > 2 else None
    if scale is not None and scale.dtype == np.float32 and zero_point is not None and zero_point.dtype == expected:
        return None
    names = []
    for part, value in (("scale", weight.scale.detach().float().numpy()), ("zero_point", weight.zero_point.numpy().astype(expected))):
        name = f"{weight.parameter}_{part}_{value.dtype.name}"
        if name not in initializers:
            graph.initializer.append(numpy_helper.from_array(value.reshape(-1) if weight.per_channel else value.reshape(1), name))
            initializers[name] = graph.initializer[-1]
        names.append(name)
    return names[0], names[1]


def _constant(graph: onnx.GraphProto, name: str) -> np.ndarray[Any, Any] | None:
    """The value of an initializer, a Constant node's output or an Identity of one (the legacy exporter writes all three)."""
    for init in graph.initializer:
        if init.name == name:
            value: np.ndarray[Any, Any] = numpy_helper.to_array(init)
            return value
    for node in graph.node:
        if node.op_type == "Identity" and node.output[0] == name:
            return _constant(graph, node.input[0])
        if node.op_type == "Constant" and node.output[0] == name:
            attribute = next((a for a in node.attribute if a.name == "value"), None)
            return None if attribute is None else numpy_helper.to_array(attribute.t)
    return None


def strip_debug_metadata(model: onnx.ModelProto) -> None:
    """Drop the exporter's per-node debug metadata: stack traces with local file paths, FX dumps.

    On a small model they are most of the file; the name map keeps initializers traceable.
    """
    for node in model.graph.node:
        del node.metadata_props[:]
        node.doc_string = ""


def add_name_map(model: onnx.ModelProto, prepared: Prepared) -> dict[str, dict[str, str]]:
    """Record, in the model's metadata, which parameter (and folded BatchNorm) each initializer came from."""
    names = {init.name for init in model.graph.initializer}
    mapping = {name: origin for name, origin in prepared.origins.items() if name in names}
    entry = model.metadata_props.add()
    entry.key, entry.value = NAME_MAP_KEY, json.dumps(mapping, sort_keys=True)
    return mapping


def name_map(model: onnx.ModelProto) -> dict[str, dict[str, str]]:
    for entry in model.metadata_props:
        if entry.key == NAME_MAP_KEY:
            loaded: dict[str, dict[str, str]] = json.loads(entry.value)
            return loaded
    return {}


def qdq_counts(model: onnx.ModelProto) -> tuple[int, int]:
    """(activation Q/DQ pairs, dequantized weight initializers, folded or not)."""
    initializers = {init.name for init in model.graph.initializer}
    biases = {init.name for init in model.graph.initializer if init.data_type == onnx.TensorProto.INT32}
    producers = {out: node for node in model.graph.node for out in node.output}
    activations = weights = 0
    integer_tables = {init.name for init in model.graph.initializer if init.data_type in (onnx.TensorProto.INT8, onnx.TensorProto.UINT8)}
    for node in model.graph.node:
        if node.op_type == "Gather" and node.input[0] in integer_tables:
            weights += 1  # an embedding table gathered, then dequantized (fusion.gather_first)
        if node.op_type != "DequantizeLinear" or node.input[0] in biases:
            continue  # int32 biases (fusion.quantize_biases) are neither
        source = producers.get(node.input[0])
        if source is not None and source.op_type == "Gather":
            continue
        if node.input[0] in initializers or (source is not None and source.op_type == "QuantizeLinear" and source.input[0] in initializers):
            weights += 1
        elif source is not None and source.op_type == "QuantizeLinear":
            activations += 1
    return activations, weights


def initializer_zeros(model: onnx.ModelProto) -> dict[str, tuple[str, list[int], int, int]]:
    """Per initializer: dtype, shape, exact zeros of the value it stands for, element count.

    An int8/uint8 weight read by a DequantizeLinear stands for ``(q - zero_point) * scale``: its zeros
    are the elements equal to their zero point.
    """
    initializers = {init.name: init for init in model.graph.initializer}
    zero_points: dict[str, Any] = {}
    for node in model.graph.node:
        if node.op_type == "DequantizeLinear" and node.input[0] in initializers and len(node.input) > 2 and node.input[2] in initializers:
            axis = next((a.i for a in node.attribute if a.name == "axis"), 1)
            zero_points[node.input[0]] = (numpy_helper.to_array(initializers[node.input[2]]), axis)
    result = {}
    for name, init in initializers.items():
        values = numpy_helper.to_array(init)
        if name in zero_points:
            zero_point, axis = zero_points[name]
            if zero_point.ndim == 1 and zero_point.size > 1:
                shape = [1] * values.ndim
                shape[axis] = -1
                zero_point = zero_point.reshape(shape)
            zeros = int((values == zero_point).sum())
        else:
            zeros = int((values == 0).sum())
        result[name] = (onnx.helper.tensor_dtype_to_np_dtype(init.data_type).name, list(values.shape), zeros, int(values.size))
    return result


def dequantized(model: onnx.ModelProto, name: str) -> np.ndarray[Any, Any]:
    """The float value an initializer stands for (its DequantizeLinear applied, if it has one).

    An embedding table that fusion.gather_first made ``Gather(int table) -> dequantize`` stands for
    the table that dequantization gives row by row."""
    initializers = {init.name: numpy_helper.to_array(init) for init in model.graph.initializer}
    values = initializers[name]
    nodes = {node.name: node for node in model.graph.node}
    for node in model.graph.node:
        if node.op_type == "DequantizeLinear" and node.input[0] == name:
            return _dequantize(values, node, initializers)
        if node.op_type == "Gather" and node.input[0] == name and node.name.endswith("_integers"):
            after = next((n for n in model.graph.node if n.op_type == "DequantizeLinear" and n.input[0] == node.output[0]), None)
            if after is not None:
                return _dequantize(values, after, initializers)
            base = node.name[: -len("_integers")]
            scale = initializers[nodes[base + "_scale"].input[0]].astype(np.float32).reshape(-1, 1)
            zero_point = initializers[nodes[base + "_zp"].input[0]].astype(np.int32).reshape(-1, 1) if base + "_zp" in nodes else 0
            result: np.ndarray[Any, Any] = ((values.astype(np.int32) - zero_point).astype(np.float32) * scale).astype(np.float32)
            return result
    return values


def _dequantize(values: np.ndarray[Any, Any], node: onnx.NodeProto, initializers: dict[str, np.ndarray[Any, Any]]) -> np.ndarray[Any, Any]:
    scale = initializers[node.input[1]].astype(np.float32)
    zero_point = initializers[node.input[2]].astype(np.int32) if len(node.input) > 2 else np.zeros_like(scale, dtype=np.int32)
    if scale.ndim == 1 and scale.size > 1:
        axis = next((a.i for a in node.attribute if a.name == "axis"), 1)
        shape = [1] * values.ndim
        shape[axis] = -1
        scale, zero_point = scale.reshape(shape), zero_point.reshape(shape)
    result: np.ndarray[Any, Any] = ((values.astype(np.int32) - zero_point) * scale).astype(np.float32)
    return result
