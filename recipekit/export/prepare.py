"""Turn a trained model (and its runner's QAT simulation) into an export-ready copy.

The copy computes what the trained model computes in eval mode with its observers
frozen, written with the two fake-quantization ops torch's ONNX exporters turn into
QuantizeLinear/DequantizeLinear, and with every simulated Conv+BatchNorm fold made
real: the folded weight is fake-quantized and the BatchNorm is gone. Everything is
checked before the copy is made; the user's model is never changed.

Imports torch only.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from recipekit.plan import qdq
from recipekit.runtime.qat import (
    QUANTIZABLE,
    FakeQuantizer,
    Quantization,
    QuantizedModule,
    bn_scale_factor,
    is_float_functional,
    is_simulating,
    post_process,
)


class ExportError(ValueError):
    """The model cannot be exported as asked; the message names the module and what to change."""


@dataclass(frozen=True)
class Frozen:
    """One fake-quantizer with its observed scale and zero point, frozen."""

    scale: torch.Tensor
    zero_point: torch.Tensor
    quant_min: int
    quant_max: int
    per_channel: bool

    @classmethod
    def of(cls, quantizer: FakeQuantizer) -> Frozen:
        scale, zero_point = quantizer.qparams()
        low, high = quantizer.args.bounds
        if not quantizer.args.per_channel:
            # Stored in the shape the op takes, so the initializer keeps the buffer's name (no reshape node).
            scale, zero_point = scale.reshape(1), zero_point.reshape(1)
        return cls(scale.detach().clone(), zero_point.detach().clone(), low, high, quantizer.args.per_channel)

    def __call__(self, x: torch.Tensor, scale: torch.Tensor | None = None, zero_point: torch.Tensor | None = None) -> torch.Tensor:
        """Fake-quantize ``x``: the same ops, arguments and dtypes as FakeQuantizer.__call__, so the result
        is bit for bit the trained model's. The export passes the module's buffers holding the same
        scale and zero point, so that the ONNX initializers carry the buffers' names."""
        scale = self.scale if scale is None else scale
        zero_point = self.zero_point if zero_point is None else zero_point
        values = x if x.dtype == torch.float32 else x.float()
        if self.per_channel:
            out = torch.fake_quantize_per_channel_affine(values, scale, zero_point, 0, self.quant_min, self.quant_max)
        else:
            out = torch.fake_quantize_per_tensor_affine(values, scale, zero_point, self.quant_min, self.quant_max)
        return out if out.dtype == x.dtype else out.to(x.dtype)


@dataclass
class QuantizedWeight:
    """A weight as torch's fake quantization stores it: integers, scale, zero point."""

    module: str
    parameter: str
    integers: torch.Tensor  # int8 or uint8 values, exactly torch's round-and-clamp
    scale: torch.Tensor
    zero_point: torch.Tensor
    per_channel: bool
    #: Zeros of the trained parameter (its pruned weights), counted in torch.
    parameter_zeros: int
    #: The BatchNorm2d folded into this weight, if any.
    folded_bn: str | None = None


@dataclass
class Prepared:
    """The export-ready copy and what the ONNX post-processing needs to know about it."""

    model: nn.Module
    quantized: bool
    #: ONNX initializer name (the copy's state_dict key) -> where it came from.
    origins: dict[str, dict[str, str]] = field(default_factory=dict)
    #: Weight initializer name -> its integers, scale and zero point.
    weights: dict[str, QuantizedWeight] = field(default_factory=dict)
    #: Conv name -> BatchNorm2d name, for every fold made real.
    folded: dict[str, str] = field(default_factory=dict)
    #: Parameter name -> number of exact zeros in the trained model.
    parameter_zeros: dict[str, int] = field(default_factory=dict)
    #: Quantized two-input matmul modules (QATMatMul: attention's Q·Kᵀ and P·V), in model order.
    matmuls: list[str] = field(default_factory=list)


def quantization_of(runner: Any) -> Quantization | None:
    return None if runner is None else runner.quantization


def check_exportable(model: nn.Module, quantization: Quantization | None) -> None:
    """Raise ExportError, naming the module, for anything a QDQ graph cannot express."""
    if quantization is None:
        simulated = [name for name, module in model.named_modules() if _simulating(module)]
        if simulated:
            raise ExportError(
                f"module {simulated[0]!r} simulates quantization but no runner was given: pass runner= (the object attach returned)"
            )
        return
    if not quantization.enabled:
        raise ExportError(
            f"the plan quantizes {len(quantization.modules)} modules but QAT has not started (the model was never fake-quantized): "
            "train up to the QuantizationModifier's start_epoch, or export a model attached to a plan without QAT"
        )
    for quantized in quantization.modules:
        for slot, quantizer in quantized.quantizers().items():
            where = f"module {quantized.name!r} ({slot})"
            problem = qdq.range_problem(quantizer.args.num_bits, quantizer.args.symmetric, quantizer.args.reduce_range)
            if problem is not None:
                raise ExportError(f"{where}: {problem}; quantize it with 8 bits (no reduce_range for symmetric ones) to export it")
            if slot != "weight" and quantizer.args.per_channel:
                raise ExportError(f"{where}: {qdq.per_channel_activation_problem()}; use strategy: tensor for activations")
            if quantizer.min_val is None:
                raise ExportError(f"{where}: the observer never saw a value, so there is no scale; run a forward pass with QAT on first")


def _simulating(module: nn.Module) -> bool:
    return is_simulating(module)


def prepare(model: nn.Module, runner: Any, *, quantize: bool = True) -> Prepared:
    """The export-ready copy of ``model``; raises ExportError before copying anything."""
    quantization = quantization_of(runner) if quantize else None
    check_exportable(model, quantization)
    masks: dict[str, torch.Tensor] = {} if runner is None else runner.masks()
    names = {id(module): name for name, module in model.named_modules()}
    prepared = Prepared(copy.deepcopy(model), quantization is not None)
    clone = prepared.model
    for module in clone.modules():
        # The deep copy shares the runtime's forward closures, which compute with the original's tensors.
        if _simulating(module):
            del module.forward
    clone.eval()
    with torch.no_grad():
        for name, param in clone.named_parameters():
            mask = masks.get(name)
            if mask is not None:
                param.mul_(mask.to(param.dtype))
            prepared.parameter_zeros[name] = int((param == 0).sum())
        prepared.origins = {key: {"parameter": key} for key in clone.state_dict()}
        if quantization is not None:
            for quantized in quantization.modules:
                _prepare_module(prepared, quantized, names)
    return prepared


def _prepare_module(prepared: Prepared, quantized: QuantizedModule, names: dict[int, str]) -> None:
    clone = prepared.model
    module: Any = clone.get_submodule(quantized.name)
    prefix = quantized.name + "." if quantized.name else ""
    if quantized.right is not None:
        _prepare_matmul(prepared, quantized, module, prefix)
        return
    if not isinstance(quantized.module, QUANTIZABLE):
        _prepare_activation(prepared, quantized, module, prefix)
        return
    weight_name = prefix + "weight"
    weight: torch.Tensor = module.weight.detach()
    bias: torch.Tensor | None = None if getattr(module, "bias", None) is None else module.bias.detach()
    bn_name = None
    if quantized.bn is not None:
        bn_name = names[id(quantized.bn)]
        bn: Any = clone.get_submodule(bn_name)
        # The same expressions as the runtime's simulated fold (qat._conv_forward), so the weight that
        # is fake-quantized is bit for bit the one training fake-quantized.
        scale_factor = bn_scale_factor(bn).detach()
        channel_shape = [1] * weight.dim()
        channel_shape[0] = -1
        weight = weight * scale_factor.reshape(channel_shape)
        shift = -bn.running_mean if bias is None else bias - bn.running_mean
        bias = shift * scale_factor + (bn.bias.detach() if bn.bias is not None else 0.0)
        _replace(clone, bn_name, nn.Identity())
        prepared.folded[quantized.name] = bn_name
        for key in list(prepared.origins):
            if key.startswith(bn_name + "."):
                del prepared.origins[key]
        if module.bias is None:
            module.bias = nn.Parameter(bias.clone(), requires_grad=False)
        else:
            module.bias.copy_(bias)
        module.weight.copy_(weight)
        prepared.origins[weight_name] = {"parameter": weight_name, "folded_bn": bn_name}
        prepared.origins[prefix + "bias"] = {"parameter": prefix + "bias", "folded_bn": bn_name}
    slots = {slot: Frozen.of(q) for slot, q in quantized.quantizers().items()}
    for slot, frozen in slots.items():
        for part in ("scale", "zero_point"):
            key = f"{slot}_{part}"
            module.register_buffer(key, getattr(frozen, part))
            prepared.origins[prefix + key] = {"parameter": weight_name if slot == "weight" else quantized.name, "role": f"{slot} {part}"}
    if "weight" in slots:
        frozen = slots["weight"]
        quantized_weight = frozen(weight)
        scale = frozen.scale.reshape([-1] + [1] * (weight.dim() - 1)) if frozen.per_channel else frozen.scale
        zero_point = frozen.zero_point.reshape(scale.shape) if frozen.per_channel else frozen.zero_point
        # fake-quant gives (q - zp) * scale in float; dividing back is exact up to rounding, far below 0.5.
        integers = torch.round(quantized_weight / scale) + zero_point
        dtype = torch.int8 if frozen.quant_min < 0 else torch.uint8
        prepared.weights[weight_name] = QuantizedWeight(
            quantized.name,
            weight_name,
            integers.to(dtype),
            frozen.scale,
            frozen.zero_point,
            frozen.per_channel,
            prepared.parameter_zeros.get(weight_name, 0),
            bn_name,
        )
    relu = quantized.relu is not None
    if relu:
        # As in training (and in SparseML's fused ConvBnReLU2d): the ReLU runs right after the conv (its
        # BatchNorm folded in), then the output fake-quant; the model's ReLU module is the identity.
        _replace(clone, names[id(quantized.relu)], nn.Identity())
    object.__setattr__(module, "forward", _export_forward(module, slots, relu))


def _prepare_activation(prepared: Prepared, quantized: QuantizedModule, module: nn.Module, prefix: str) -> None:
    """A module SparseML quantized without weights (SiLU, ReLU, LayerNorm, ...): its input (and output) fake-quant."""
    slots = {slot: Frozen.of(q) for slot, q in quantized.quantizers().items()}
    for slot, frozen in slots.items():
        for part in ("scale", "zero_point"):
            key = f"{slot}_{part}"
            module.register_buffer(key, getattr(frozen, part))
            prepared.origins[prefix + key] = {"parameter": quantized.name, "role": f"{slot} {part}"}
    if is_float_functional(module):
        # add/add_relu/cat/mul call this Identity on their result: the output fake-quant goes there.
        output_q = slots["output"]
        object.__setattr__(post_process(module), "forward", _PostProcessForward(output_q, module))
        return
    object.__setattr__(module, "forward", _ActivationForward(module, slots.get("input"), slots.get("output"), module))


class _PostProcessForward:
    """A FloatFunctional's output fake-quant, frozen, with its scale and zero point buffers of ``holder``."""

    def __init__(self, output_q: Frozen, holder: nn.Module) -> None:
        self.output_q, self.holder = output_q, holder

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        holder: Any = self.holder
        return self.output_q(x, holder.output_scale, holder.output_zero_point)


class _ActivationForward:
    """A module's own forward between frozen fake-quantizers whose scale and zero point are buffers of ``holder``."""

    def __init__(self, module: nn.Module, input_q: Frozen | None, output_q: Frozen | None, holder: nn.Module) -> None:
        self.module, self.input_q, self.output_q, self.holder = module, input_q, output_q, holder

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        holder: Any = self.holder
        if self.input_q is not None:
            x = self.input_q(x, holder.input_scale, holder.input_zero_point)
        out: torch.Tensor = type(self.module).forward(self.module, x)
        return out if self.output_q is None else self.output_q(out, holder.output_scale, holder.output_zero_point)


def _prepare_matmul(prepared: Prepared, quantized: QuantizedModule, module: nn.Module, prefix: str) -> None:
    """A QATMatMul: both operands and the product fake-quantized, with the module's buffers as qparams."""
    slots = {slot: Frozen.of(q) for slot, q in quantized.quantizers().items()}
    for slot, frozen in slots.items():
        for part in ("scale", "zero_point"):
            module.register_buffer(f"{slot}_{part}", getattr(frozen, part))
            prepared.origins[f"{prefix}{slot}_{part}"] = {"parameter": quantized.name, "role": f"{slot} {part}"}
    object.__setattr__(module, "forward", _MatMulForward(module, slots))
    prepared.matmuls.append(quantized.name)


class _MatMulForward:
    """A QATMatMul between frozen fake-quantizers (both operands and the product), whose scales and zero
    points are the module's buffers: exported as QDQ around a MatMul, which onnxruntime fuses."""

    def __init__(self, module: nn.Module, slots: dict[str, Frozen]) -> None:
        self.module, self.slots = module, slots

    def __call__(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        module: Any = self.module
        slots = self.slots
        if "input" in slots:
            a = slots["input"](a, module.input_scale, module.input_zero_point)
        if "right" in slots:
            b = slots["right"](b, module.right_scale, module.right_zero_point)
        out: torch.Tensor = type(module).forward(module, a, b)
        return out if "output" not in slots else slots["output"](out, module.output_scale, module.output_zero_point)


def _replace(root: nn.Module, name: str, new: nn.Module) -> None:
    parent_name, _, leaf = name.rpartition(".")
    parent = root.get_submodule(parent_name) if parent_name else root
    parent._modules[leaf] = new


def _export_forward(module: Any, slots: dict[str, Frozen], relu: bool = False) -> Callable[[torch.Tensor], torch.Tensor]:
    """The simulated forward with frozen quantizers and no mask (the copy's weights are already masked)."""
    weight_q, input_q, output_q = slots.get("weight"), slots.get("input"), slots.get("output")

    def forward(x: torch.Tensor) -> torch.Tensor:
        if input_q is not None:
            x = input_q(x, module.input_scale, module.input_zero_point)
        weight = module.weight if weight_q is None else weight_q(module.weight, module.weight_scale, module.weight_zero_point)
        if isinstance(module, nn.Embedding):
            out = F.embedding(x, weight, module.padding_idx, module.max_norm, module.norm_type, module.scale_grad_by_freq, module.sparse)
        elif isinstance(module, nn.Linear):
            out = F.linear(x, weight, module.bias)
        else:
            out = module._conv_forward(x, weight, module.bias)
            if relu:
                out = F.relu(out)
        return out if output_q is None else output_q(out, module.output_scale, module.output_zero_point)

    return forward
