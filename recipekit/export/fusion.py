"""Graph passes that write a QDQ export in the patterns onnxruntime's CPU provider fuses into int8 kernels.

None of them changes what the file computes beyond the rounding the int8 kernels apply anyway
(docs/export.md, "Speed"):

- ``quantize_biases``: a Linear (Gemm, or MatMul followed by Add) whose input and weight come from
  DequantizeLinear gets its float bias as int32 ``round(b / (s_x * s_w))`` read by a DequantizeLinear
  of scale ``s_x * s_w`` (per output channel when the weight is). onnxruntime fuses a Gemm without an
  output QuantizeLinear into QGemm only when every input, the bias included, comes from a
  DequantizeLinear. A Conv gets the same when its output reaches a QuantizeLinear (the only case in
  which it can become QLinearConv).
- ``gather_first``: ``DequantizeLinear(table) -> Gather`` becomes ``Gather(int table) -> dequantize``:
  only the gathered rows are dequantized, not the whole table on every run. Bit-identical.
- ``pool_integers``: ``DequantizeLinear -> MaxPool`` becomes ``MaxPool(integers) -> DequantizeLinear``,
  so the pool runs on uint8 between two int8 kernels. Bit-identical.
- ``drop_requantize``: a ``DequantizeLinear -> QuantizeLinear`` pair that gives back every integer
  (two quantizers in a row whose scales agree to a few float32 steps) is dropped. Bit-identical,
  checked over every integer of the type.
- ``scalar_qparams``: per-tensor scales and zero points as scalars (onnxruntime's QLinearAdd fusion).
- ``float_weights``: (optional) the weight of a Conv/Linear that will stay a float kernel is written
  as the fp32 values its DequantizeLinear gives (bit-identical), so onnxruntime can constant-fold
  and prepack it instead of dequantizing it on every run. The file grows.
- ``predict``: for every quantized Conv/Linear, whether onnxruntime's QDQ rules fuse it, and if not
  why; the report names the modules left float.

Imports onnx and numpy: only imported when an export runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper

#: Ops that sit between a Conv and the QuantizeLinear that makes it QLinearConv (onnxruntime drops them).
_ACTIVATIONS_FOLDED_INTO_Q = ("Relu", "Clip")
_INT32 = (-(2**31), 2**31 - 1)


@dataclass(frozen=True)
class Layer:
    """One Conv or Linear of the graph whose weight is a quantized initializer."""

    node: onnx.NodeProto  # Conv, Gemm or MatMul
    weight: str  # the weight initializer (the parameter's name)
    weight_dq: onnx.NodeProto
    transpose: onnx.NodeProto | None  # DQ -> Transpose -> MatMul (a Linear on a 3-D input)
    bias_holder: onnx.NodeProto | None  # the node reading the bias: the Conv/Gemm itself or the Add after the MatMul
    bias_slot: int


class Graph:
    """Producers, consumers and initializers of a graph, refreshed after each rewrite."""

    def __init__(self, model: onnx.ModelProto) -> None:
        self.model = model
        self.graph = model.graph
        self.refresh()

    def refresh(self) -> None:
        self.initializers: dict[str, onnx.TensorProto] = {init.name: init for init in self.graph.initializer}
        self.producers: dict[str, onnx.NodeProto] = {out: node for node in self.graph.node for out in node.output}
        self.consumers: dict[str, list[onnx.NodeProto]] = {}
        for node in self.graph.node:
            for name in node.input:
                self.consumers.setdefault(name, []).append(node)
        self.outputs = {out.name for out in self.graph.output}

    def array(self, name: str) -> np.ndarray[Any, Any] | None:
        init = self.initializers.get(name)
        return None if init is None else numpy_helper.to_array(init)

    def add_initializer(self, name: str, value: np.ndarray[Any, Any]) -> str:
        self.graph.initializer.append(numpy_helper.from_array(value, name))
        self.initializers[name] = self.graph.initializer[-1]
        return name

    def only_user(self, name: str) -> onnx.NodeProto | None:
        users = self.consumers.get(name, [])
        return users[0] if len(users) == 1 and name not in self.outputs else None

    def weight_dq(self, name: str) -> tuple[onnx.NodeProto | None, onnx.NodeProto | None]:
        """(DequantizeLinear of a constant, Transpose between) when ``name`` is one, else (None, None)."""
        node = self.producers.get(name)
        transpose = None
        if node is not None and node.op_type == "Transpose":
            transpose, node = node, self.producers.get(node.input[0])
        if node is None or node.op_type != "DequantizeLinear" or not self.constant_input(node.input[0]):
            return None, None
        return node, transpose

    def constant_input(self, name: str) -> bool:
        """An initializer, or a QuantizeLinear of one (``int8_weights=False``: onnxruntime folds it)."""
        if name in self.initializers:
            return True
        node = self.producers.get(name)
        return node is not None and node.op_type == "QuantizeLinear" and node.input[0] in self.initializers

    def activation_dq(self, name: str) -> onnx.NodeProto | None:
        node = self.producers.get(name)
        if node is None or node.op_type != "DequantizeLinear" or self.constant_input(node.input[0]):
            return None
        return node

    def reaches_quantize(self, node: onnx.NodeProto) -> bool:
        """onnxruntime's rule for a Conv: its only consumer is a QuantizeLinear, possibly after one Relu/Clip."""
        user = self.only_user(node.output[0])
        if user is not None and user.op_type in _ACTIVATIONS_FOLDED_INTO_Q:
            user = self.only_user(user.output[0])
        return user is not None and user.op_type == "QuantizeLinear"

    def remove_dead(self) -> None:
        """Drop nodes whose outputs nobody reads, then initializers nobody reads."""
        while True:
            self.refresh()
            dead = [n for n in self.graph.node if not any(o in self.consumers or o in self.outputs for o in n.output)]
            if not dead:
                break
            for node in dead:
                self.graph.node.remove(node)
        used = set(self.consumers) | self.outputs
        for init in list(self.graph.initializer):
            if init.name not in used:
                self.graph.initializer.remove(init)
        self.refresh()


def _attribute(node: onnx.NodeProto, name: str, default: Any = None) -> Any:
    for attribute in node.attribute:
        if attribute.name == name:
            return helper.get_attribute_value(attribute)
    return default


def layers(g: Graph, weights: set[str]) -> list[Layer]:
    """The Conv/Gemm/MatMul nodes whose weight (input 1) is a DequantizeLinear of one of ``weights``."""
    found = []
    for node in g.graph.node:
        if node.op_type not in ("Conv", "Gemm", "MatMul") or len(node.input) < 2:
            continue
        dq, transpose = g.weight_dq(node.input[1])
        if dq is None:
            continue
        source = dq.input[0]
        producer = g.producers.get(source)
        weight = producer.input[0] if producer is not None and producer.op_type == "QuantizeLinear" else source
        if weight not in weights:
            continue
        holder, slot = _bias(g, node)
        found.append(Layer(node, weight, dq, transpose, holder, slot))
    return found


def _bias(g: Graph, node: onnx.NodeProto) -> tuple[onnx.NodeProto | None, int]:
    if node.op_type in ("Conv", "Gemm"):
        return (node, 2) if len(node.input) > 2 and node.input[2] else (None, -1)
    add = g.only_user(node.output[0])
    if add is None or add.op_type != "Add":
        return None, -1
    for slot in (1, 0):
        value = g.array(add.input[slot])
        if value is not None and value.ndim == 1:
            return add, slot
    return None, -1


def _scale(g: Graph, dq: onnx.NodeProto) -> np.ndarray[Any, Any] | None:
    value = g.array(dq.input[1])
    return None if value is None else value.astype(np.float32)


def float_reason(g: Graph, layer: Layer) -> str | None:
    """Why onnxruntime's QDQ rules keep this layer a float kernel, or None when they fuse it."""
    if g.activation_dq(layer.node.input[0]) is None:
        return "input not quantized"
    if layer.node.op_type == "Conv":
        return None if g.reaches_quantize(layer.node) else "output not quantized"
    if layer.bias_holder is None:
        return None  # MatMul(DQ, DQ): MatMulIntegerToFloat, or QGemm without a bias
    bias_input = layer.bias_holder.input[layer.bias_slot]
    producer = g.producers.get(bias_input)
    if producer is not None and producer.op_type == "DequantizeLinear":
        return None
    # DQ -> Gemm (or MatMul + Add) -> Q becomes QGemm whatever its bias: the output quantizer requantizes it.
    user = g.only_user(layer.bias_holder.output[0])
    if user is not None and user.op_type == "QuantizeLinear":
        return None
    return "float bias"


def quantize_biases(g: Graph, names: dict[str, str]) -> dict[str, str]:
    """Write the bias of every fusable Linear (and of every Conv whose output is quantized) as int32 + DequantizeLinear.

    ``names``: weight initializer -> module name, for naming the new initializers. Returns, per new
    initializer, the float bias initializer it replaces."""
    changed: dict[str, str] = {}
    for layer in layers(g, set(names)):
        if layer.bias_holder is None or (layer.node.op_type == "Conv" and not g.reaches_quantize(layer.node)):
            continue
        x_dq = g.activation_dq(layer.node.input[0])
        s_w = _scale(g, layer.weight_dq)
        bias_name = layer.bias_holder.input[layer.bias_slot]
        bias = g.array(bias_name)
        if x_dq is None or s_w is None or bias is None or bias.ndim != 1:
            continue
        s_x = _scale(g, x_dq)
        if s_x is None or s_x.size != 1 or s_w.size not in (1, bias.size):
            continue
        scale = (s_x.reshape(()) * s_w.reshape(-1)).astype(np.float32)
        integers = np.round(bias.astype(np.float32) / scale)
        if not np.all(np.isfinite(integers)) or integers.min() < _INT32[0] or integers.max() > _INT32[1]:
            continue  # left float; the report names the layer ("float bias")
        module = names[layer.weight]
        prefix = module + "." if module else ""
        scale = scale.reshape(()) if scale.size == 1 else scale
        q_name = g.add_initializer(prefix + "bias_int32", integers.astype(np.int32))
        s_name = g.add_initializer(prefix + "bias_scale", scale)
        z_name = g.add_initializer(prefix + "bias_zero_point", np.zeros(scale.shape, np.int32))
        dq = helper.make_node("DequantizeLinear", [q_name, s_name, z_name], [prefix + "bias_dequantized"], name=prefix + "bias_dq", axis=0)
        index = list(g.graph.node).index(layer.bias_holder)
        g.graph.node.insert(index, dq)
        layer.bias_holder.input[layer.bias_slot] = dq.output[0]
        changed.update({q_name: bias_name, s_name: bias_name, z_name: bias_name})
    g.remove_dead()
    return changed


def gather_first(g: Graph) -> int:
    """``DequantizeLinear(int table) -> Gather(axis 0)`` becomes ``Gather(int table) -> dequantize``. Bit-identical."""
    count = 0
    for node in list(g.graph.node):
        if node.op_type != "Gather" or _attribute(node, "axis", 0) != 0:
            continue
        dq, transpose = g.weight_dq(node.input[0])
        if dq is None or transpose is not None or node.input[0] in g.outputs or len(g.consumers.get(dq.output[0], [])) != 1:
            continue
        table = g.array(dq.input[0])
        scale = g.array(dq.input[1])
        zero_point = g.array(dq.input[2]) if len(dq.input) > 2 and dq.input[2] else np.zeros((), np.int8)
        if table is None or scale is None or zero_point is None:
            continue
        index = list(g.graph.node).index(node)
        rows = node.output[0] + "_integers"
        new = [helper.make_node("Gather", [dq.input[0], node.input[1]], [rows], name=node.name + "_integers", axis=0)]
        if scale.size == 1:
            new.append(helper.make_node("DequantizeLinear", [rows, dq.input[1], *dq.input[2:]], [node.output[0]], name=node.name))
        else:
            # One scale (and zero point) per row: gather them too; (q - zp) * s in float32 is exactly DequantizeLinear's.
            out, ids = node.output[0], node.input[1]
            new += [
                helper.make_node("Gather", [dq.input[1], ids], [out + "_scale"], name=node.name + "_scale", axis=0),
                helper.make_node("Unsqueeze", [out + "_scale", _axes(g, node.name)], [out + "_scale_1"], name=node.name + "_scale_1"),
                helper.make_node("Cast", [rows], [out + "_float"], name=node.name + "_float", to=onnx.TensorProto.FLOAT),
            ]
            values = out + "_float"
            if np.any(zero_point != 0):
                new += [
                    helper.make_node("Gather", [dq.input[2], ids], [out + "_zp"], name=node.name + "_zp", axis=0),
                    helper.make_node("Cast", [out + "_zp"], [out + "_zp_float"], name=node.name + "_zp_float", to=onnx.TensorProto.FLOAT),
                    helper.make_node("Unsqueeze", [out + "_zp_float", _axes(g, node.name)], [out + "_zp_1"], name=node.name + "_zp_1"),
                    helper.make_node("Sub", [values, out + "_zp_1"], [out + "_centered"], name=node.name + "_centered"),
                ]
                values = out + "_centered"
            new.append(helper.make_node("Mul", [values, out + "_scale_1"], [out], name=node.name))
        g.graph.node.remove(node)
        for offset, created in enumerate(new):
            g.graph.node.insert(index + offset, created)
        count += 1
        g.refresh()
    g.remove_dead()
    return count


def _axes(g: Graph, name: str) -> str:
    axes = name + "_last_axis"
    if axes not in g.initializers:
        g.add_initializer(axes, np.array([-1], np.int64))
    return axes


def float_weights(g: Graph, names: dict[str, str]) -> list[str]:
    """Write the weight of each layer that stays float as the fp32 values its DequantizeLinear gives."""
    changed = []
    for layer in layers(g, set(names)):
        if float_reason(g, layer) is None or len(g.consumers.get(layer.weight_dq.output[0], [])) != 1:
            continue
        values = dequantize(g, layer.weight_dq)
        if values is None:
            continue
        g.initializers[layer.weight].CopyFrom(numpy_helper.from_array(values, layer.weight))
        target = layer.transpose if layer.transpose is not None else layer.node
        slot = 0 if layer.transpose is not None else 1
        target.input[slot] = layer.weight
        changed.append(names[layer.weight])
    g.remove_dead()
    return changed


def dequantize(g: Graph, dq: onnx.NodeProto) -> np.ndarray[Any, Any] | None:
    """What a DequantizeLinear of a constant outputs, computed as onnxruntime does: (q - zp) * scale in float32."""
    source = dq.input[0]
    producer = g.producers.get(source)
    if producer is not None:
        return None  # an fp32 weight with its Q/DQ (int8_weights=False): left as exported
    values, scale = g.array(source), g.array(dq.input[1])
    zero_point = g.array(dq.input[2]) if len(dq.input) > 2 and dq.input[2] else None
    if values is None or scale is None:
        return None
    zero_point = np.zeros_like(scale, np.int32) if zero_point is None else zero_point.astype(np.int32)
    scale = scale.astype(np.float32)
    if scale.size > 1:
        shape = [1] * values.ndim
        shape[_attribute(dq, "axis", 1)] = -1
        scale, zero_point = scale.reshape(shape), zero_point.reshape(shape)
    result: np.ndarray[Any, Any] = ((values.astype(np.int32) - zero_point).astype(np.float32) * scale).astype(np.float32)
    return result


@dataclass(frozen=True)
class Prediction:
    module: str
    kind: str  # "Conv" or "Linear"
    #: Why onnxruntime's QDQ rules keep it a float kernel; None when they fuse it.
    reason: str | None
    #: The weight's scale initializer, which the fused kernel reads too: how the report finds the module's kernel.
    weight_scale: str


def predict(g: Graph, names: dict[str, str]) -> list[Prediction]:
    """Every quantized Conv/Linear module of the graph, and whether onnxruntime's QDQ rules fuse it."""
    return [
        Prediction(
            names[layer.weight], "Conv" if layer.node.op_type == "Conv" else "Linear", float_reason(g, layer), layer.weight_dq.input[1]
        )
        for layer in layers(g, set(names))
    ]


# -- activation passes: what lets onnxruntime keep a whole network in integers -------------------
def _per_tensor_qparams(g: Graph, node: onnx.NodeProto) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]] | None:
    """A QuantizeLinear/DequantizeLinear's constant per-tensor (scale, zero point), or None."""
    if len(node.input) < 3 or not node.input[2]:
        return None
    scale, zero_point = g.array(node.input[1]), g.array(node.input[2])
    if scale is None or zero_point is None or scale.size != 1 or zero_point.size != 1:
        return None
    return scale, zero_point


def pool_integers(g: Graph) -> int:
    """``DequantizeLinear -> MaxPool`` becomes ``MaxPool(integers) -> DequantizeLinear``. Bit-identical.

    Dequantizing is non-decreasing (``(q - zp) * scale`` with a positive scale, element by element),
    so the largest dequantized value of a window is the dequantized largest integer; every window
    holds at least one element of the input (ONNX requires pads smaller than the kernel), so the
    integer padding value never wins over a real one. onnxruntime then runs the pool on uint8 in its
    NHWC layout, between two QLinearConvs, instead of a float pool with layout conversions around it.
    """
    opset = next((o.version for o in g.model.opset_import if o.domain in ("", "ai.onnx")), 0)
    if opset < 12:
        return 0  # MaxPool takes integers from opset 12
    count = 0
    for node in list(g.graph.node):
        if node.op_type != "MaxPool" or len(node.output) != 1 or _attribute(node, "storage_order", 0) != 0:
            continue
        dq = g.activation_dq(node.input[0])
        qparams = None if dq is None else _per_tensor_qparams(g, dq)
        if dq is None or qparams is None or not bool(np.all(qparams[0] > 0)):
            continue
        index = list(g.graph.node).index(node)
        integers = node.output[0] + "_integers"
        pool = helper.make_node("MaxPool", [dq.input[0]], [integers], name=node.name + "_integers")
        pool.attribute.extend(node.attribute)
        dequantize = helper.make_node("DequantizeLinear", [integers, *dq.input[1:]], [node.output[0]], name=node.name)
        g.graph.node.remove(node)
        g.graph.node.insert(index, dequantize)
        g.graph.node.insert(index, pool)
        count += 1
        g.refresh()
    g.remove_dead()
    return count


def requantize_is_identity(
    dequantize: tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]], quantize: tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]
) -> bool:
    """Whether quantizing what ``dequantize`` gives, with ``quantize``'s scale and zero point, returns every
    integer of the type unchanged: checked on all of them (8 bits: 256), in float32, both as ONNX
    writes it (``x / scale``) and as torch's fake quantization computes it (``x * (1 / scale)``)."""
    (s1, z1), (s2, z2) = dequantize, quantize
    info = np.iinfo(z1.dtype)
    if info.bits > 8:
        return False
    codes = np.arange(info.min, info.max + 1, dtype=np.int32)
    values = (codes - np.int32(z1.item())).astype(np.float32) * np.float32(s1.item())
    scale = np.float32(s2.item())
    for steps in (values / scale, values * (np.float32(1.0) / scale)):
        again = np.clip(np.rint(steps.astype(np.float32)) + np.float32(z2.item()), info.min, info.max)
        if not np.array_equal(again.astype(np.int32), codes):
            return False
    return True


def drop_requantize(g: Graph) -> int:
    """``DequantizeLinear -> QuantizeLinear`` that gives back every integer unchanged (the same type, and
    scales and zero points for which ``requantize_is_identity`` holds) is dropped: its readers read the
    integers directly. Bit-identical, by that check over every integer.

    Such pairs come from two quantizers in a row on one tensor (a residual Add's output quantizer,
    SparseML's FloatFunctional, then the next convolution's input quantizer; a MaxPool's input
    quantizer after a convolution's output quantizer): each observes what the previous one gave, so
    their scales agree to a few float32 steps. onnxruntime would run each pair as two float ops (and
    layout conversions around them) between int8 kernels.
    """
    count = 0
    for node in list(g.graph.node):
        if node.op_type != "QuantizeLinear" or node.output[0] in g.outputs:
            continue
        dq = g.activation_dq(node.input[0])
        if dq is None:
            continue
        theirs, ours = _per_tensor_qparams(g, dq), _per_tensor_qparams(g, node)
        if theirs is None or ours is None:
            continue
        if theirs[1].dtype != ours[1].dtype or not requantize_is_identity(theirs, ours):
            continue
        for reader in g.consumers.get(node.output[0], []):
            for slot, name in enumerate(reader.input):
                if name == node.output[0]:
                    reader.input[slot] = dq.input[0]
        count += 1
        g.refresh()
    g.remove_dead()
    return count


def scalar_qparams(g: Graph) -> int:
    """Per-tensor scales and zero points written as 1-element tensors become scalars (the same values).

    The export writes them in the shape torch's fake-quant op takes; onnxruntime's QLinearConv and
    QGemm fusions accept that, but its QLinearAdd fusion (a residual Add between two quantizers) wants
    scalars.
    """
    slots = {"QuantizeLinear": (1, 2), "DequantizeLinear": (1, 2)}
    count = 0
    for name, init in g.initializers.items():
        if list(init.dims) != [1]:
            continue
        readers = g.consumers.get(name, [])
        uses = [(r, slot) for r in readers for slot, value in enumerate(r.input) if value == name]
        if not uses or name in g.outputs or any(r.op_type not in slots or slot not in slots[r.op_type] for r, slot in uses):
            continue
        del init.dims[:]
        count += 1
    return count
