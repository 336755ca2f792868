"""Quantization-aware training on core torch ops, as SparseML's QuantizationModifier simulated it.

Fake quantization is ``torch.fake_quantize_per_tensor_affine`` /
``torch.fake_quantize_per_channel_affine`` fed by moving-average min/max
observers with torch's formulas for scale and zero point, but without
``torch.ao.quantization`` (deprecated, and it warns on import). Quantized
modules keep their names, parameters and state_dict keys: their ``forward`` is
swapped for one that masks and fake-quantizes the weight and fake-quantizes the
input (and, where the recipe asks, the output) activation. A Conv2d directly
followed by a BatchNorm2d and/or a ReLU in the same parent, the blocks SparseML's
``fuse_module_conv_bn_relus`` fused, is simulated folded the way torch's QAT
ConvBn2d computes it, with the output fake-quant after the block's last module as
SparseML quantized the fused module's output; freezing BN statistics then makes
that BatchNorm use its running statistics. The new-style modifier also
fake-quantizes the input of every other quantizable leaf module (SiLU, ReLU,
LayerNorm, ...), as SparseML's QuantWrappers did, and the result of a FloatFunctional (a
residual Add written as SparseML's ResNets wrote it) where its output_activations asks. The swapped-in forwards are
instances of module-level classes, so a QAT model pickles (``torch.save(model)``).
"""

from __future__ import annotations

import warnings
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from recipekit.plan import qdq
from recipekit.runtime.misuse import RecipeRuntimeWarning

#: Module types that get fake-quantized weights (subclasses included).
QUANTIZABLE = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Embedding)
#: Observer kwargs the runtime honours; anything else is refused rather than silently ignored.
_OBSERVER_KWARGS = frozenset({"reduce_range", "averaging_constant", "observer"})
_EPS = torch.finfo(torch.float32).eps


class QatConfigError(ValueError):
    """The recipe's quantization settings cannot be simulated on this model."""


@dataclass(frozen=True)
class QuantArgs:
    """How one tensor is quantized: bits, symmetry, per-tensor or per-output-channel, observer."""

    num_bits: int = 8
    symmetric: bool = False
    per_channel: bool = False
    reduce_range: bool = False
    #: Moving-average weight of a new observation; None keeps a running min/max (MinMaxObserver).
    averaging_constant: float | None = 0.01

    @property
    def bounds(self) -> tuple[int, int]:
        return qdq.bounds(self.num_bits, self.symmetric, self.reduce_range)


class FakeQuantizer:
    """A min/max observer and the fake-quantization it parameterises (torch's FakeQuantize, on core ops)."""

    def __init__(self, args: QuantArgs) -> None:
        self.args = args
        self.min_val: torch.Tensor | None = None
        self.max_val: torch.Tensor | None = None
        self.observing = True

    def observe(self, x: torch.Tensor) -> None:
        values = x.detach().float()
        if values.numel() == 0:
            return  # an empty batch says nothing about the range (torch's observers skip it too)
        if self.args.per_channel:
            low, high = torch.aminmax(values.reshape(values.shape[0], -1), dim=1)
        else:
            low, high = torch.aminmax(values)
        if self.min_val is None or self.max_val is None:
            self.min_val, self.max_val = low, high
        elif self.args.averaging_constant is None:
            self.min_val, self.max_val = torch.minimum(self.min_val, low), torch.maximum(self.max_val, high)
        else:
            c = self.args.averaging_constant
            self.min_val = self.min_val + c * (low - self.min_val)
            self.max_val = self.max_val + c * (high - self.max_val)

    def qparams(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Scale and zero point from the observed range, by torch's ``_calculate_qparams``."""
        assert self.min_val is not None and self.max_val is not None
        quant_min, quant_max = self.args.bounds
        min_neg = torch.clamp(self.min_val, max=0.0)
        max_pos = torch.clamp(self.max_val, min=0.0)
        if self.args.symmetric:
            scale = torch.clamp(torch.maximum(-min_neg, max_pos) / ((quant_max - quant_min) / 2), min=_EPS)
            zero_point = torch.zeros_like(scale, dtype=torch.int32)
        else:
            scale = torch.clamp((max_pos - min_neg) / float(quant_max - quant_min), min=_EPS)
            zero_point = torch.clamp(quant_min - torch.round(min_neg / scale), quant_min, quant_max).to(torch.int32)
        return scale, zero_point

    @property
    def observed(self) -> bool:
        return self.min_val is not None

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.observing:
            self.observe(x)
        if self.min_val is None:
            # Never observed (its observer was off before its first batch): torch's FakeQuantize,
            # and so SparseML, quantizes with its initial scale 1.0 and zero point 0.
            quant_min, quant_max = self.args.bounds
            return torch.fake_quantize_per_tensor_affine(x if x.dtype == torch.float32 else x.float(), 1.0, 0, quant_min, quant_max).to(
                x.dtype
            )
        scale, zero_point = self.qparams()
        quant_min, quant_max = self.args.bounds
        values = x if x.dtype == torch.float32 else x.float()
        if self.args.per_channel:
            out = torch.fake_quantize_per_channel_affine(values, scale, zero_point, 0, quant_min, quant_max)
        else:
            out = torch.fake_quantize_per_tensor_affine(values, scale.reshape(1), zero_point.reshape(1), quant_min, quant_max)
        return out if out.dtype == x.dtype else out.to(x.dtype)

    def state(self) -> dict[str, Any]:
        return {"min": self.min_val, "max": self.max_val, "observing": self.observing}

    def load(self, state: dict[str, Any]) -> None:
        self.min_val, self.max_val, self.observing = state["min"], state["max"], bool(state["observing"])


@dataclass
class QuantizedModule:
    """One module's fake-quantizers, and the BatchNorm2d folded into it if any."""

    name: str
    module: nn.Module
    weight: FakeQuantizer | None
    input: FakeQuantizer | None
    output: FakeQuantizer | None
    bn: nn.BatchNorm2d | None = None
    #: SparseML's legacy Embedding weight fake-quantizer ignores disable_observer (the BERT goldens show it).
    weight_ignores_disable: bool = False
    #: The ReLU fused after this conv (SparseML's ConvReLU2d / ConvBnReLU2d), if any, and its name.
    relu: nn.Module | None = None
    relu_name: str = ""
    #: The right operand's fake-quantizer of a two-input module SparseML wrapped in a QATWrapper
    #: (``QATMatMul``: ``input`` is the left operand's); None for every other module.
    right: FakeQuantizer | None = None

    @property
    def tail(self) -> nn.Module | None:
        """The last module of the fused Conv-BN(-ReLU) block: the output fake-quant follows it, as it
        followed SparseML's fused module. None when nothing is fused (the output follows the conv)."""
        return self.relu if self.relu is not None else self.bn

    def quantizers(self) -> dict[str, FakeQuantizer]:
        slots = {"weight": self.weight, "input": self.input, "right": self.right, "output": self.output}
        return {slot: q for slot, q in slots.items() if q is not None}


MaskLookup = Callable[[str], "torch.Tensor | None"]


# -- reading the recipe's settings ---------------------------------------------------------------
def _args_from_scheme(value: dict[str, Any] | None, where: str) -> QuantArgs | None:
    """A normalised QuantizationArgs mapping (num_bits, symmetric, strategy, kwargs) as QuantArgs."""
    if value is None:
        return None
    strategy = value.get("strategy", "tensor")
    if strategy not in ("tensor", "channel"):
        raise QatConfigError(f"{where}: strategy {strategy!r} is neither 'tensor' nor 'channel'")
    return _with_kwargs(
        QuantArgs(num_bits=int(value.get("num_bits", 8)), symmetric=bool(value.get("symmetric")), per_channel=strategy == "channel"),
        value.get("kwargs") or {},
        where,
    )


def _with_kwargs(args: QuantArgs, kwargs: dict[str, Any], where: str) -> QuantArgs:
    unknown = sorted(set(kwargs) - _OBSERVER_KWARGS)
    if unknown:
        raise QatConfigError(f"{where}: observer options {unknown} are not simulated; the runtime supports {sorted(_OBSERVER_KWARGS)}")
    observer = str(kwargs.get("observer", "movingaverageminmaxobserver")).lower()
    if observer not in ("minmaxobserver", "movingaverageminmaxobserver"):
        raise QatConfigError(f"{where}: observer {kwargs['observer']!r} is not simulated; use minmaxobserver or the default")
    constant = None if observer == "minmaxobserver" else float(kwargs.get("averaging_constant", 0.01))
    if not 1 <= args.num_bits <= 16:
        raise QatConfigError(f"{where}: num_bits {args.num_bits} is outside 1..16")
    return QuantArgs(args.num_bits, args.symmetric, args.per_channel, bool(kwargs.get("reduce_range", args.reduce_range)), constant)


def _matches(name: str, module: nn.Module, key: str) -> bool:
    """SparseML's _match_submodule_name_or_type: a plain string prefix of the name, or the class name."""
    return name.startswith(key) or type(module).__name__ == key


def _strip(name: str) -> str:
    return name[len("module.") :] if name.startswith("module.") else name


def _fused_blocks(model: nn.Module) -> dict[str, tuple[nn.BatchNorm2d | None, nn.Module | None, str]]:
    """Conv2d name -> (its BatchNorm2d, its ReLU, the ReLU's name), as SparseML's ``fuse_module_conv_bn_relus`` grouped them.

    Its state machine over ``named_modules()``: a Conv2d starts a block; a BatchNorm2d directly after
    the conv, then a ReLU (or a ReLU directly after the conv), in the same parent, join it. Only a
    BatchNorm2d with running statistics can be folded (the runtime refuses nothing else here: a
    BatchNorm without them ends the block, as torch's fuser could not take it).
    """
    blocks: dict[str, tuple[nn.BatchNorm2d | None, nn.Module | None, str]] = {}
    current: list[tuple[str, nn.Module]] = []
    parent = ""
    for name, module in model.named_modules():
        here = name.rpartition(".")[0]
        is_bn = isinstance(module, nn.BatchNorm2d) and module.running_var is not None
        if (len(current) == 1 and is_bn and here == parent) or (len(current) in (1, 2) and isinstance(module, nn.ReLU) and here == parent):
            current.append((name, module))
            continue
        if len(current) > 1:
            blocks[current[0][0]] = _block(current)
        current = [(name, module)] if isinstance(module, nn.Conv2d) else []
        parent = here
    if len(current) > 1:
        blocks[current[0][0]] = _block(current)
    return blocks


def _block(members: list[tuple[str, nn.Module]]) -> tuple[nn.BatchNorm2d | None, nn.Module | None, str]:
    bn = next((m for _, m in members[1:] if isinstance(m, nn.BatchNorm2d)), None)
    relu_name, relu = next(((n, m) for n, m in members[1:] if isinstance(m, nn.ReLU)), ("", None))
    return bn, relu, relu_name


#: Module types SparseML's new-style modifier never quantizes (``constants.NON_QUANTIZABLE_MODULE_NAMES``).
NON_QUANTIZABLE_MODULE_NAMES = frozenset(
    {
        "Module", "Identity", "Flatten", "Unflatten", "DataParallel", "ModuleList", "Sequential",
        "L1Loss", "NLLLoss", "KLDivLoss", "MSELoss", "BCELoss", "BCEWithLogitsLoss", "NLLLoss2d", "PoissonNLLLoss",
        "CosineEmbeddingLoss", "CTCLoss", "HingeEmbeddingLoss", "MarginRankingLoss", "MultiLabelMarginLoss",
        "MultiLabelSoftMarginLoss", "MultiMarginLoss", "SmoothL1Loss", "GaussianNLLLoss", "HuberLoss", "SoftMarginLoss",
        "CrossEntropyLoss", "TripletMarginLoss", "AdaptiveLogSoftmaxWithLoss", "TripletMarginWithDistanceLoss",
        "Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout",
    }
)  # fmt: skip


#: Leaf types (exact) whose output torch's eager-mode ``prepare_qat`` observed under the legacy modifier:
#: those of its qconfig propagation list without weights to fake-quantize. BatchNorm (SparseML wrapped
#: an unfused one), Sigmoid/Tanh/Hardsigmoid (fixed-qparams fake-quants) and Conv1d/ConvTranspose are
#: not simulated this way yet.
LEGACY_OUTPUT_OBSERVED = (
    nn.LayerNorm, nn.GroupNorm, nn.InstanceNorm1d, nn.InstanceNorm2d, nn.InstanceNorm3d,
    nn.ReLU6, nn.Hardswish, nn.ELU, nn.LeakyReLU, nn.PReLU,
)  # fmt: skip


def _new_flavour(config: dict[str, Any], model: nn.Module) -> tuple[list[QuantizedModule], bool]:
    scheme = config["scheme"]
    overrides: dict[str, Any] = config.get("scheme_overrides") or {}
    ignore: list[str] = list(config.get("ignore") or [])
    named = [(_strip(name), module) for name, module in model.named_modules()]
    if config.get("strict", True):
        unmatched = [key for key in [*overrides, *ignore] if not any(_matches(n, m, key) for n, m in named)]
        if unmatched:
            raise QatConfigError(f"scheme_overrides/ignore name no module of the model (strict: true): {unmatched}")
    fuse = config.get("model_fuse_fn_name")
    if scheme.get("target_hardware") == "tensorrt":
        fuse = "no_fuse"
    fold = _fold_wanted(fuse)
    # The BatchNorm and ReLU of a fused block became Identity in SparseML's model: never quantized.
    fused_away = {id(m) for bn, relu, _ in (_fused_blocks(model).values() if fold else ()) for m in (bn, relu) if m is not None}
    planned = []
    for (name, module), (original, _) in zip(named, model.named_modules(), strict=True):
        if any(_matches(name, module, key) for key in ignore):
            continue
        # The longest matching prefix wins; a class name counts only when no prefix matches (quantize.py's
        # _match_submodule_name_or_type).
        keys = sorted((k for k in overrides if name.startswith(k)), key=len, reverse=True)
        keys += [k for k in overrides if type(module).__name__ == k]
        chosen = overrides[keys[0]] if keys else scheme
        where = f"scheme for {original}"
        if getattr(module, "wrap_qat", False):
            # SparseML's set_quantization_schemes: a wrap_qat module gets a QATWrapper before any other rule.
            planned.append(_wrapped_new(original, module, chosen, where))
            continue
        if isinstance(module, QUANTIZABLE):
            weight = _args_from_scheme(chosen.get("weights"), where + " weights")
            inputs = None if isinstance(module, nn.Embedding) else _args_from_scheme(chosen.get("input_activations"), where + " inputs")
            outputs = _args_from_scheme(chosen.get("output_activations"), where + " outputs")
            planned.append(_quantized(original, module, weight, inputs, outputs))
            continue
        if is_float_functional(module):
            # SparseML's new-style modifier never wrapped a FloatFunctional's inputs; it replaced the
            # Identity its add/add_relu/cat/mul call on their result (activation_post_process) with an
            # output_activations fake-quantizer: a residual Add's output is quantized in training.
            outputs = _args_from_scheme(chosen.get("output_activations"), where + " outputs")
            if outputs is not None:
                planned.append(_quantized(original, module, None, None, outputs))
            continue
        activation = _activation_site(name, module, bool(keys) and keys[0] == type(module).__name__, id(module) in fused_away)
        if not activation:
            continue
        # SparseML gave every other quantizable leaf module (SiLU, ReLU, GELU, LayerNorm, BatchNorm,
        # Softmax, pooling, ...) a QuantWrapper: its input fake-quantized by input_activations, and an
        # output observer by output_activations; it has no weight quantizer.
        inputs = _args_from_scheme(chosen.get("input_activations"), where + " inputs")
        outputs = _args_from_scheme(chosen.get("output_activations"), where + " outputs")
        if inputs is not None or outputs is not None:
            planned.append(_quantized(original, module, None, inputs, outputs))
    return planned, fold


def is_float_functional(module: nn.Module) -> bool:
    """torch's FloatFunctional (``add``, ``add_relu``, ``cat``, ``mul``, ...), which SparseML's own ResNets
    use for the residual Add: known by its type name and the Identity its methods call on their result,
    so that torch.ao is never imported."""
    return type(module).__name__ == "FloatFunctional" and isinstance(getattr(module, "activation_post_process", None), nn.Identity)


def post_process(module: nn.Module) -> nn.Module:
    """The Identity a FloatFunctional's methods call on their result (its output quantizer's place)."""
    identity = module.activation_post_process
    assert isinstance(identity, nn.Module)
    return identity


def _activation_site(name: str, module: nn.Module, type_override: bool, fused_away: bool) -> bool:
    """Whether SparseML's ``set_quantization_schemes`` gave this (non-weight) module a scheme."""
    if fused_away or type(module).__name__ in NON_QUANTIZABLE_MODULE_NAMES:
        return False
    if next(module.children(), None) is None:
        return True  # a leaf: ``is_quantizable_module``
    if type_override:
        # SparseML wrapped the whole container and stopped wrapping its children's inputs: not simulated.
        raise QatConfigError(
            f"scheme_overrides names the type of {name!r} ({type(module).__name__}), a module with submodules: SparseML "
            "quantized its input as a whole and not its children's, which the runtime does not simulate; name its "
            "submodules or their types instead"
        )
    return False


def _legacy_flavour(config: dict[str, Any], model: nn.Module) -> tuple[list[QuantizedModule], bool]:
    named = {_strip(name): (name, module) for name, module in model.named_modules()}
    submodules = config.get("submodules")
    roots = [""] if submodules is None else [_strip(s) for s in submodules]
    missing = [s for s in roots if s not in named]
    if missing:
        raise QatConfigError(f"submodules {missing} are not modules of the model (SparseML: 'Could not find all provided submodules')")
    excluded = {"Softmax", *(config.get("exclude_module_types") or [])}
    # SparseML wraps a module of a custom quantizable type (SiLU in YOLOv5) in a QuantWrapper: its
    # input is fake-quantized with the activation settings; it has no weight and no output quantizer.
    custom = set(config.get("custom_quantizable_module_types") or [])
    tensorrt = bool(config.get("tensorrt"))
    weight = _with_kwargs(
        QuantArgs(num_bits=int(config.get("weight_bits", 8)), symmetric=True), config.get("weight_qconfig_kwargs") or {}, "weights"
    )
    activation = _with_kwargs(
        QuantArgs(num_bits=int(config.get("activation_bits", 8)), symmetric=tensorrt, reduce_range=bool(config.get("reduce_range"))),
        config.get("activation_qconfig_kwargs") or {},
        "activations",
    )
    output_flags = {
        nn.Linear: bool(config.get("quantize_linear_activations", True)),
        nn.Embedding: bool(config.get("quantize_embedding_activations", True)),
    }
    fold = _fold_wanted(config.get("model_fuse_fn_name"))
    # A BatchNorm or ReLU fused into a conv was an Identity in SparseML's model: never wrapped.
    fused_away = {id(m) for bn, relu, _ in (_fused_blocks(model).values() if fold else ()) for m in (bn, relu) if m is not None}
    planned: list[QuantizedModule] = []
    seen: set[str] = set()
    for root in roots:
        for name, (original, module) in named.items():
            if original in seen or not (root in ("", name) or name.startswith(root + ".")):
                continue
            if getattr(module, "wrap_qat", False) and name != root:
                # configure_module_qat_wrappers wrapped it (a child of the root) before exclude_module_types
                # was read, and that strips the qconfig of the wrapped module, not of its quant stubs.
                seen.add(original)
                planned.append(_wrapped_legacy(original, module, activation, tensorrt))
                continue
            if type(module).__name__ in excluded:
                continue
            if not isinstance(module, QUANTIZABLE):
                wrapped = type(module).__name__ in custom and id(module) not in fused_away
                if wrapped and is_float_functional(module):
                    # SparseML wrapped it in a QuantWrapper, which has no add/add_relu/cat: its model failed on the first call.
                    raise QatConfigError(
                        f"custom_quantizable_module_types names FloatFunctional ({original!r}): SparseML wrapped it in a "
                        "QuantWrapper, which has no add/add_relu/cat, so its model failed on the first call; remove it (the "
                        "new-style scheme's output_activations quantizes a FloatFunctional's result)"
                    )
                # torch's prepare_qat, which the legacy modifier ran, gave a leaf of these types an output
                # observer (its qconfig propagation list); SparseML removed it only from Linear/Conv/Embedding.
                observed = type(module) in LEGACY_OUTPUT_OBSERVED and next(module.children(), None) is None
                if wrapped or observed:
                    seen.add(original)
                    planned.append(_quantized(original, module, None, activation if wrapped else None, activation if observed else None))
                continue
            if isinstance(module, nn.Embedding) and not config.get("quantize_embeddings", True):
                continue
            seen.add(original)
            conv_output = bool(config.get("quantize_conv_activations", True))
            wants_output = next((flag for kind, flag in output_flags.items() if isinstance(module, kind)), conv_output)
            inputs = None if isinstance(module, nn.Embedding) else activation
            quantized = _quantized(original, module, weight, inputs, activation if wants_output else None)
            quantized.weight_ignores_disable = isinstance(module, nn.Embedding)
            planned.append(quantized)
    return planned, fold


def _wrapper_stubs(name: str, module: nn.Module) -> tuple[list[bool], list[bool]]:
    """Whether each input and output quant stub of SparseML's ``QATWrapper.from_module(module)`` is symmetric.

    Only the wrapper shape of ``QATMatMul`` (two positional inputs, one output, quant stubs named
    by string) is simulated; any other ``qat_wrapper_kwargs`` is refused rather than half-simulated.
    """
    kwargs = dict(getattr(module, "qat_wrapper_kwargs", None) or {})
    inputs, outputs = int(kwargs.pop("num_inputs", 1)), int(kwargs.pop("num_outputs", 1))
    specs = {"input_qconfigs": kwargs.pop("input_qconfigs", "asymmetric"), "output_qconfigs": kwargs.pop("output_qconfigs", "asymmetric")}
    counts = {"input_qconfigs": inputs, "output_qconfigs": outputs}
    symmetric: dict[str, list[bool]] = {}
    for key, spec in specs.items():
        listed = [spec] * counts[key] if isinstance(spec, str) else list(spec)
        if len(listed) != counts[key] or any(s not in ("asymmetric", "symmetric") for s in listed):
            raise QatConfigError(f"{name!r} ({type(module).__name__}): qat_wrapper_kwargs {key} {spec!r} is not simulated")
        symmetric[key] = [s == "symmetric" for s in listed]
    if kwargs or inputs != 2 or outputs != 1:
        raise QatConfigError(
            f"{name!r} ({type(module).__name__}) asks SparseML's QATWrapper for {inputs} inputs and {outputs} outputs "
            f"{'with ' + str(sorted(kwargs)) if kwargs else ''}; the runtime simulates two inputs and one output (QATMatMul) only"
        )
    return symmetric["input_qconfigs"], symmetric["output_qconfigs"]


def _wrapped_legacy(name: str, module: nn.Module, activation: QuantArgs, tensorrt: bool) -> QuantizedModule:
    """The legacy modifier's QATWrapper: each stub quantizes like the activations, symmetric where its
    string says so (``qproperties.symmetric_activations``; tensorrt makes every stub symmetric)."""
    ins, outs = _wrapper_stubs(name, module)

    def stub(symmetric: bool) -> FakeQuantizer:
        args = activation
        return FakeQuantizer(QuantArgs(args.num_bits, symmetric or tensorrt, False, args.reduce_range, args.averaging_constant))

    return QuantizedModule(name, module, None, stub(ins[0]), stub(outs[0]), right=stub(ins[1]))


def _wrapped_new(name: str, module: nn.Module, scheme: dict[str, Any], where: str) -> QuantizedModule:
    """The new-style modifier's QATWrapper, with ``QATWrapper._load_qconfigs``' quirk reproduced.

    Each stub observes with the scheme's ``output_activations``. When the scheme has none, each
    stub gets default 8-bit args whose symmetry is the stub's string; when it has some, SparseML
    set the string's symmetry on ``input_activations`` instead, so every stub quantizes exactly as
    ``output_activations`` says (and a scheme without ``input_activations`` crashed).
    """
    ins, outs = _wrapper_stubs(name, module)
    declared = _args_from_scheme(scheme.get("output_activations"), where + " outputs")
    if declared is not None and scheme.get("input_activations") is None:
        raise QatConfigError(
            f"{where}: output_activations without input_activations: SparseML's QATWrapper crashed on {type(module).__name__} "
            "('NoneType' object has no attribute 'symmetric'); give the scheme input_activations or ignore the module"
        )

    def stub(symmetric: bool) -> FakeQuantizer:
        return FakeQuantizer(declared if declared is not None else QuantArgs(symmetric=symmetric))

    return QuantizedModule(name, module, None, stub(ins[0]), stub(outs[0]), right=stub(ins[1]))


def _fold_wanted(fuse: Any) -> bool:
    if fuse in (None, "conv_bn_relus"):
        return True
    if fuse == "no_fuse":
        return False
    raise QatConfigError(
        f"model_fuse_fn_name {fuse!r} names a function of your model; the runtime folds Conv2d+BatchNorm2d itself. "
        "Use conv_bn_relus (the default) or no_fuse"
    )


def _quantized(
    name: str, module: nn.Module, weight: QuantArgs | None, inputs: QuantArgs | None, outputs: QuantArgs | None
) -> QuantizedModule:
    return QuantizedModule(
        name,
        module,
        None if weight is None else FakeQuantizer(weight),
        None if inputs is None else FakeQuantizer(inputs),
        None if outputs is None else FakeQuantizer(outputs),
    )


def plan_quantization(flavour: str, config: dict[str, Any], model: nn.Module) -> list[QuantizedModule]:
    """Which modules get which fake-quantizers; raises QatConfigError before anything is changed."""
    if config.get("num_calibration_steps"):
        raise QatConfigError(
            "num_calibration_steps needs a calibration data loader, which the runtime does not run; remove it "
            "(the observers calibrate during training)"
        )
    try:
        planned, fold = _legacy_flavour(config, model) if flavour == "legacy" else _new_flavour(config, model)
    except (TypeError, ValueError, KeyError, AttributeError) as error:
        if isinstance(error, QatConfigError):
            raise
        # The plan is untrusted: a value of the wrong type (weight_bits: "eight") is a refusal, not a traceback.
        raise QatConfigError(f"the quantization settings cannot be simulated: {type(error).__name__}: {error}") from None
    if fold:
        blocks = _fused_blocks(model)
        for quantized in planned:
            if quantized.name in blocks and quantized.weight is not None:
                quantized.bn, quantized.relu, quantized.relu_name = blocks[quantized.name]
    return planned


# -- the simulated forward passes ----------------------------------------------------------------
# Each is an instance of a module-level class (not a closure), so a model running them pickles:
# torch.save(model) stores the fake-quantizers and, for the masks, the tensors in force when saved.
def _weight(quantized: QuantizedModule, masks: MaskLookup) -> torch.Tensor:
    weight = quantized.module.weight
    assert isinstance(weight, torch.Tensor)
    mask = masks(quantized.name + ".weight" if quantized.name else "weight")
    # The mask goes on before fake quantization, so pruned weights stay exactly zero through QAT.
    return weight if mask is None else weight * mask


def bn_scale_factor(bn: nn.BatchNorm2d) -> torch.Tensor:
    """torch's QAT ConvBn2d ``scale_factor``: ``bn.weight / sqrt(running_var + eps)``, in its order of operations."""
    assert bn.running_var is not None
    running_std = torch.sqrt(bn.running_var + bn.eps)
    return running_std.reciprocal() if bn.weight is None else bn.weight / running_std


def _conv_forward(quantized: QuantizedModule, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    module: Any = quantized.module
    bn = quantized.bn
    if bn is None:
        w = weight if quantized.weight is None else quantized.weight(weight)
        out: torch.Tensor = module._conv_forward(x, w, module.bias)
        return out
    # torch's QAT ConvBn2d (_forward_approximate): quantize the BN-scaled weight, undo the scale on
    # the output and let the model's own BatchNorm2d normalise it next.
    scale_factor = bn_scale_factor(bn)
    channel_shape = [1] * weight.dim()
    channel_shape[0] = -1
    scaled = weight * scale_factor.reshape(channel_shape)
    zero_bias = torch.zeros(module.out_channels, device=x.device, dtype=x.dtype)
    out = module._conv_forward(x, scaled if quantized.weight is None else quantized.weight(scaled), zero_bias)
    out_shape = [1] * out.dim()
    out_shape[1] = -1
    out = out / scale_factor.reshape(out_shape)
    return out if module.bias is None else out + module.bias.reshape(out_shape)


class FixedMasks:
    """The masks a saved model was pruned with (a pickled simulation no longer asks its runner)."""

    def __init__(self, masks: dict[str, torch.Tensor]) -> None:
        self.masks = masks

    def __call__(self, name: str) -> torch.Tensor | None:
        return self.masks.get(name)


class SimulatedForward:
    """A quantized module's forward: input fake-quant, masked and fake-quantized weight, output fake-quant
    (unless a fused BatchNorm/ReLU after it carries the output quantizer)."""

    def __init__(self, quantized: QuantizedModule, masks: MaskLookup) -> None:
        self.quantized = quantized
        self.masks = masks
        #: The last output before the output fake-quant, for FusedAway's check of the model's ReLU call.
        self.last: weakref.ref[torch.Tensor] | None = None

    def __call__(self, x: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        quantized = self.quantized
        module: Any = quantized.module
        if args or kwargs:
            raise TypeError(
                f"{quantized.name!r} ({type(module).__name__}) is quantized and called with more than one input; SparseML's "
                "QuantWrapper passed it one tensor. Add the module (or its type) to the QuantizationModifier's ignore list"
            )
        if quantized.input is not None:
            x = quantized.input(x)
        if not isinstance(module, QUANTIZABLE):
            # An activation SparseML wrapped (SiLU, ReLU, LayerNorm, ...): fake-quantized input, its own forward.
            result: torch.Tensor = type(module).forward(module, x)
            return result if quantized.output is None else quantized.output(result)
        weight = _weight(quantized, self.masks)
        if isinstance(module, nn.Embedding):
            w = weight if quantized.weight is None else quantized.weight(weight)
            out = F.embedding(x, w, module.padding_idx, module.max_norm, module.norm_type, module.scale_grad_by_freq, module.sparse)
        elif isinstance(module, nn.Linear):
            out = F.linear(x, weight if quantized.weight is None else quantized.weight(weight), module.bias)
        else:
            out = _conv_forward(quantized, x, weight)
            if quantized.bn is not None:
                return out  # the BatchNorm's TailForward applies the fused ReLU and the output fake-quant
            if quantized.relu is not None:
                out = F.relu(out)  # SparseML's ConvReLU2d: the ReLU runs here; the ReLU module became Identity
        out = out if quantized.output is None else quantized.output(out)
        self.last = weakref.ref(out)
        return out

    def __getstate__(self) -> dict[str, Any]:
        name = self.quantized.name + ".weight" if self.quantized.name else "weight"
        mask = self.masks(name) if isinstance(self.quantized.module, QUANTIZABLE) else None
        return {"quantized": self.quantized, "masks": {} if mask is None else {name: mask.detach().clone()}}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.quantized = state["quantized"]
        self.masks = FixedMasks(state["masks"])
        self.last = None


class WrappedForward(SimulatedForward):
    """The forward of a module SparseML wrapped in a QATWrapper (``QATMatMul``): both inputs
    fake-quantized, the module's own forward, the output fake-quantized. It has no weight (no mask)."""

    def __call__(self, x: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        quantized = self.quantized
        if len(args) != 1 or kwargs:
            raise TypeError(f"{quantized.name!r} ({type(quantized.module).__name__}) is quantized as a matmul of two tensors")
        b: torch.Tensor = args[0]
        if quantized.input is not None:
            x = quantized.input(x)
        if quantized.right is not None:
            b = quantized.right(b)
        out: torch.Tensor = type(quantized.module).forward(quantized.module, x, b)
        return out if quantized.output is None else quantized.output(out)


class TailForward:
    """The forward of a fused block's BatchNorm: its own computation (a frozen BatchNorm uses its
    running statistics), then the fused ReLU and the conv's output fake-quant, where SparseML's fused
    ConvBn2d / ConvBnReLU2d applied them."""

    def __init__(self, module: nn.Module, output: FakeQuantizer | None, frozen_bn: bool, relu: bool = False) -> None:
        self.module = module
        self.output = output
        self.frozen_bn = frozen_bn
        self.relu = relu
        self.last: weakref.ref[torch.Tensor] | None = None

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        module: Any = self.module
        if self.frozen_bn:
            out = F.batch_norm(x, module.running_mean, module.running_var, module.weight, module.bias, False, 0.0, module.eps)
        else:
            out = type(module).forward(module, x)
        if self.relu:
            out = F.relu(out)
        out = out if self.output is None else self.output(out)
        self.last = weakref.ref(out)
        return out

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "last": None}


class PostProcessForward:
    """The forward of a FloatFunctional's ``activation_post_process`` (an Identity): the output
    fake-quantizer SparseML put there, applied to what add/add_relu/cat/mul computed."""

    def __init__(self, output: FakeQuantizer) -> None:
        self.output = output

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.output(x)


class FusedAway:
    """The forward of a ReLU fused into a conv block: the identity, as torch's fuser left in its place.

    SparseML grouped the block by module order, not by data flow. Where the model calls the ReLU on
    something other than the block's output (a ResNet's ReLU after the residual Add), SparseML's model
    skipped that call; so does this one, and says so once.
    """

    def __init__(self, name: str, conv: str, tail: SimulatedForward | TailForward) -> None:
        self.name, self.conv, self.tail = name, conv, tail
        self.warned = False

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        last = None if self.tail.last is None else self.tail.last()
        if last is not x and not self.warned:
            self.warned = True
            warnings.warn(
                f"ReLU {self.name!r} is fused into the quantized conv {self.conv!r} (SparseML's fuse_module_conv_bn_relus "
                "groups a Conv2d, BatchNorm2d and ReLU by module order), but the model also calls it on another tensor: "
                "SparseML's fused model applied it only inside the block and skipped this call, and so does recipekit. "
                "Give each use its own ReLU module, or set model_fuse_fn_name: no_fuse",
                RecipeRuntimeWarning,
                stacklevel=2,
            )
        return x

    def __getstate__(self) -> dict[str, Any]:
        return dict(self.__dict__)


def frozen_batchnorm(bn: nn.BatchNorm2d) -> TailForward:
    """A BatchNorm2d forward that uses, and no longer updates, its running statistics."""
    return TailForward(bn, None, True)


def simulated_forward(quantized: QuantizedModule, masks: MaskLookup) -> SimulatedForward:
    return WrappedForward(quantized, masks) if quantized.right is not None else SimulatedForward(quantized, masks)


def is_simulating(module: nn.Module) -> bool:
    """Whether ``module`` runs a forward of this simulation instead of its own."""
    return isinstance(module.__dict__.get("forward"), (SimulatedForward, TailForward, FusedAway, PostProcessForward))


def _override_forward(module: nn.Module, forward: Callable[[torch.Tensor], torch.Tensor]) -> None:
    # An instance attribute shadows the class's forward; deleting it gives the module its own back.
    # Parameters, buffers and state_dict keys stay as they were.
    object.__setattr__(module, "forward", forward)


class Quantization:
    """The QAT of one plan: planned at attach, switched on, observers off and BN frozen at their steps."""

    def __init__(self, planned: list[QuantizedModule], masks: MaskLookup, start_step: int) -> None:
        self.modules = planned
        self.masks = masks
        self.start_step = start_step
        self.enabled = False
        self.bn_frozen = False

    @property
    def observing(self) -> bool:
        """Whether any fake-quantizer still updates its observer."""
        return self.enabled and any(q.observing for m in self.modules for q in m.quantizers().values())

    @property
    def folds(self) -> bool:
        return any(q.bn is not None for q in self.modules)

    def enable(self) -> None:
        if self.enabled:
            return
        for quantized in self.modules:
            if is_float_functional(quantized.module):
                assert quantized.output is not None
                _override_forward(post_process(quantized.module), PostProcessForward(quantized.output))
                continue
            _override_forward(quantized.module, simulated_forward(quantized, self.masks))
        self.enabled = True
        self._tails()

    def disable_observers(self, every: bool = False) -> None:
        """SparseML's disable_observer; ``every`` also stops the quantizers that ignored it (end of training)."""
        for quantized in self.modules:
            for slot, quantizer in quantized.quantizers().items():
                if every or not (slot == "weight" and quantized.weight_ignores_disable):
                    quantizer.observing = False

    def freeze_bn(self) -> None:
        self.bn_frozen = True
        self._freeze()

    def _freeze(self) -> None:
        for quantized in self.modules:
            if quantized.bn is not None and self.enabled:
                self._bn_tail(quantized, True)
            elif quantized.bn is not None:
                _override_forward(quantized.bn, TailForward(quantized.bn, None, True))  # frozen before QAT starts: nothing fused yet

    def _bn_tail(self, quantized: QuantizedModule, frozen: bool) -> None:
        assert quantized.bn is not None
        tail = TailForward(quantized.bn, quantized.output, frozen, quantized.relu is not None)
        _override_forward(quantized.bn, tail)
        current = None if quantized.relu is None else quantized.relu.__dict__.get("forward")
        if isinstance(current, FusedAway):
            current.tail = tail  # BatchNorm frozen: the same ReLU, said at most once
        elif quantized.relu is not None:
            _override_forward(quantized.relu, FusedAway(quantized.relu_name, quantized.name, tail))

    def _tails(self) -> None:
        """Move each fused block's ReLU and output fake-quant where SparseML's fused module had them."""
        for quantized in self.modules:
            if quantized.bn is not None:
                self._bn_tail(quantized, self.bn_frozen)
            elif quantized.relu is not None:
                forward = quantized.module.__dict__["forward"]
                _override_forward(quantized.relu, FusedAway(quantized.relu_name, quantized.name, forward))

    def remove(self) -> None:
        """Give every module its own forward back."""
        for quantized in self.modules:
            identity = post_process(quantized.module) if is_float_functional(quantized.module) else None
            for module in (quantized.module, quantized.bn, quantized.relu, identity):
                if module is not None and "forward" in module.__dict__:
                    del module.forward
        self.enabled = False

    def never_observed(self) -> list[str]:
        """``module/slot`` of every fake-quantizer that has not seen a batch (it quantizes with scale 1, zero point 0)."""
        return [f"{m.name}/{slot}" for m in self.modules for slot, q in m.quantizers().items() if not q.observed]

    def parameters(self) -> dict[str, dict[str, dict[str, torch.Tensor]]]:
        """Scale and zero point of every observed fake-quantizer, by module name and slot."""
        result: dict[str, dict[str, dict[str, torch.Tensor]]] = {}
        for quantized in self.modules:
            for slot, quantizer in quantized.quantizers().items():
                if quantizer.min_val is not None:
                    scale, zero_point = quantizer.qparams()
                    result.setdefault(quantized.name, {})[slot] = {"scale": scale, "zero_point": zero_point}
        return result

    def state_dict(self) -> dict[str, Any]:
        observers = {
            f"{quantized.name}/{slot}": quantizer.state()
            for quantized in self.modules
            for slot, quantizer in quantized.quantizers().items()
        }
        return {"enabled": self.enabled, "bn_frozen": self.bn_frozen, "observers": observers}

    def check_state_dict(self, state: dict[str, Any]) -> None:
        """Raise QatConfigError unless ``state`` holds an observer for every fake-quantizer of this model."""
        expected = {f"{q.name}/{slot}" for q in self.modules for slot in q.quantizers()}
        missing = sorted(expected - set(state.get("observers", {})))
        if missing:
            raise QatConfigError(f"the saved QAT state has no observer for {missing[:3]}: it was saved for another model")

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.check_state_dict(state)
        if state["enabled"]:
            self.enable()
        if state["bn_frozen"]:
            self.freeze_bn()
        for quantized in self.modules:
            for slot, quantizer in quantized.quantizers().items():
                quantizer.load(state["observers"][f"{quantized.name}/{slot}"])
