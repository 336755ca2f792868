"""``to_onnx``: the trained model, as a QDQ ONNX file that onnxruntime runs with int8 kernels.

Steps: check that every quantizer can be written as QDQ (ExportError naming the module
otherwise); copy the model in eval mode with frozen quantizers and the simulated
Conv+BatchNorm folds made real (prepare.py); export the copy with torch's default (dynamo)
exporter; replace each weight's QuantizeLinear by its int8 integers and record a name map
(graph.py); save under a temporary name; run onnxruntime against torch at two batch sizes
(check.py); rename. The user's model is not modified.

The front (this module's first half) takes what a user has in hand: a tensor, a tuple of them or
a dict of keyword inputs (a tokenizer's output); a model returning a tensor, a tuple, a dict, a
dataclass or a Hugging Face ``ModelOutput`` (flattened, named after its keys); the runner of a
LightningModule for the bare model inside it (``module.model``: the runner's ``model.`` prefix).
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import inspect
import io
import logging
import os
import tempfile
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.utils._pytree as pytree
from torch import nn

from recipekit.export.prepare import ExportError, Prepared, prepare, quantization_of
from recipekit.export.report import ExportReport, InitializerReport, LayerReport

#: torch 2.13's default ONNX opset; QDQ with per-channel weights needs 13 or later.
DEFAULT_OPSET = 20
MIN_OPSET = 13
#: Above this, the weights go to an external data file next to the model (protobuf's 2 GB limit).
_EXTERNAL_DATA_BYTES = 1 << 30


#: ``dynamic_axes=``: True (batch, and sequence for token inputs), False (the example's shapes), or per input name.
DynamicAxes = bool | Mapping[str, Mapping[int, str] | Sequence[int]]


def to_onnx(
    model: nn.Module,
    example_inputs: torch.Tensor | Sequence[torch.Tensor] | Mapping[str, torch.Tensor],
    path: str | os.PathLike[str],
    *,
    runner: Any = None,
    opset: int = DEFAULT_OPSET,
    int8_weights: bool = True,
    int32_bias: bool = True,
    fp32_float_weights: bool = False,
    check: bool = True,
    exporter: str = "dynamo",
    input_names: Sequence[str] | None = None,
    output_names: Sequence[str] | None = None,
    dynamic_axes: DynamicAxes = True,
    print_report: bool = True,
) -> ExportReport:
    """Export ``model`` (trained with ``runner = recipekit.runtime.attach(...)``) to ONNX at ``path``.

    ``example_inputs`` is a tensor, a tuple or list of tensors (positional arguments), or a dict of
    tensors (keyword arguments, e.g. a tokenizer's ``input_ids`` and ``attention_mask``). Outputs
    that are tuples, dicts, dataclasses or Hugging Face ``ModelOutput`` objects are flattened, each ONNX
    output named after its key (``logits``; ``output_0``, ... for tuple items). ``runner`` may be the
    runner of a model that contains ``model`` (a LightningModule's ``callback.runner`` for
    ``module.model``): its names are matched without the prefix.

    ``dynamic_axes=True`` (the default) makes axis 0 of every input ``batch`` and, for integer
    inputs of two dimensions (token ids, masks), axis 1 ``sequence``; False keeps the example's
    shapes; a mapping ``{input name: {axis: name}}`` (or ``{input name: [axes]}``) chooses them.

    With QAT, the graph is QDQ: QuantizeLinear/DequantizeLinear around Conv/Gemm/MatMul/Gather,
    BatchNorms folded, weights as int8 initializers (``int8_weights``; fp32 + Q/DQ otherwise).
    Without QAT (pruned only) it is plain fp32; pruned weights are exact zeros either way.
    ``int32_bias`` writes fusable layers' biases as int32 + DequantizeLinear (what onnxruntime needs
    to fuse a Linear into QGemm); ``fp32_float_weights`` writes the weights of layers that stay float
    kernels in fp32 (faster, bigger file). See docs/export.md, "Speed".
    ``exporter="legacy"`` uses torch's TorchScript exporter, for models ``torch.export`` cannot
    trace (data-dependent control flow); it is deprecated and warns.
    Raises :class:`ExportError` before writing anything when the quantization cannot be
    expressed as QDQ. The file is written under a temporary name and renamed to ``path`` only
    once onnxruntime agrees with torch (at the example's batch size and at twice it, when the
    batch is dynamic) within the bound of docs/export.md; a graph that fails the check is kept
    as ``<path stem>.rejected.onnx`` and the ExportError says so. Returns the report (printed
    unless ``print_report=False``).
    """
    if not MIN_OPSET <= opset <= 23:
        raise ExportError(f"opset {opset} is not supported: QDQ with per-channel weights needs opset 13 to 23")
    if exporter not in ("dynamo", "legacy"):
        raise ExportError(f"exporter {exporter!r} is neither 'dynamo' (torch's default) nor 'legacy'")
    inputs = ExampleInputs.of(model, example_inputs, input_names)
    axes = inputs.dynamic_axes(dynamic_axes)
    path = Path(path)
    runner = runner_for(model, runner)
    prepared = prepare(model, runner)
    names = list(output_names) if output_names else _output_names(model, runner, inputs)
    proto = _export(prepared.model, inputs.for_export(axes), opset, exporter, inputs.names, names, axes)

    from recipekit.export import graph

    if prepared.quantized and int8_weights:
        graph.fold_weight_quantizers(proto, prepared)
    layers = _fusion_passes(proto, prepared, int32_bias, fp32_float_weights) if prepared.quantized else []
    graph.strip_debug_metadata(proto)
    graph.add_name_map(proto, prepared)
    pending = path.with_name(f".{path.name}.{os.getpid()}.pending")
    try:
        _save(proto, pending, path.name)
        report = _report(proto, prepared, pending, opset, exporter, int8_weights)
        report.layers = layers
        data = path.with_name(path.name + ".data")  # external weights are written under the final name
        report.path, report.file_size = path, pending.stat().st_size + (data.stat().st_size if data.exists() else 0)
        if check:
            _check(report, model, runner, inputs, proto, pending, axes)
    except ExportError as error:
        if not pending.exists():
            raise
        rejected = path.with_name(path.stem + ".rejected.onnx")
        os.replace(pending, rejected)
        _discard_external_data(path)
        raise ExportError(f"{error}. Nothing was written to {path}; the rejected graph is kept in {rejected} for a report") from None
    except BaseException:
        pending.unlink(missing_ok=True)
        _discard_external_data(path)
        raise
    os.replace(pending, path)
    if print_report:
        print(report.format())
    return report


def _fusion_passes(proto: Any, prepared: Prepared, int32_bias: bool, fp32_float_weights: bool) -> list[LayerReport]:
    """The graph passes of export/fusion.py; returns each quantized Conv/Linear module, predicted fused or why not."""
    from recipekit.export import fusion

    g = fusion.Graph(proto)
    g.remove_dead()  # the zero points' Casts that fold_weight_quantizers replaced
    names = {weight: info.module for weight, info in prepared.weights.items()}
    fusion.gather_first(g)
    fusion.pool_integers(g)
    fusion.drop_requantize(g)
    fusion.scalar_qparams(g)
    if int32_bias:
        for name, bias in fusion.quantize_biases(g, names).items():
            origin = prepared.origins.get(bias, {"parameter": bias})
            role = {"_int32": "int32 bias", "_scale": "bias scale", "_zero_point": "bias zero_point"}
            prepared.origins[name] = {**origin, "role": next(r for suffix, r in role.items() if name.endswith(suffix))}
    predicted = [LayerReport(p.module, p.kind, p.weight_scale, reason=p.reason or "") for p in fusion.predict(g, names)]
    # A QATMatMul's kernel (QLinearMatMul, or MatMulIntegerToFloat when its output is not quantized) reads
    # its right operand's scale, as a Conv/Linear kernel reads its weight's: the check names it the same way.
    predicted += [LayerReport(name, "MatMul", f"{name}.right_scale" if name else "right_scale") for name in prepared.matmuls]
    if fp32_float_weights:
        fusion.float_weights(g, names)
    return predicted


class ExampleInputs:
    """The example inputs as the model takes them (positional and keyword), and their ONNX input names."""

    def __init__(self, args: tuple[torch.Tensor, ...], kwargs: dict[str, torch.Tensor], names: list[str]) -> None:
        self.args, self.kwargs, self.names = args, kwargs, names

    @classmethod
    def of(cls, model: nn.Module, example: Any, input_names: Sequence[str] | None = None) -> ExampleInputs:
        accepted = (
            "example_inputs must be a tensor, a tuple or list of tensors (the model's positional arguments) or a dict of "
            "tensors (its keyword arguments, e.g. a tokenizer's output)"
        )
        if isinstance(example, torch.Tensor):
            args: tuple[Any, ...] = (example,)
            kwargs: dict[str, Any] = {}
        elif isinstance(example, Mapping):
            args, kwargs = (), dict(example)
        elif isinstance(example, (tuple, list)):
            args, kwargs = tuple(example), {}
        else:
            raise ExportError(f"{accepted}; got a {type(example).__name__}")
        for where, value in [*((f"item {i}", a) for i, a in enumerate(args)), *((repr(k), v) for k, v in kwargs.items())]:
            if not isinstance(value, torch.Tensor):
                raise ExportError(f"{accepted}; {where} is a {type(value).__name__}")
        if any(not isinstance(key, str) for key in kwargs):
            raise ExportError(f"{accepted}; the dict's keys must be the names of the model's arguments")
        names = [*_positional_names(model, len(args)), *kwargs]
        if input_names is not None:
            if len(input_names) != len(names):
                raise ExportError(f"input_names has {len(input_names)} names but the example has {len(names)} inputs ({', '.join(names)})")
            names = list(input_names)
        return cls(args, kwargs, names)

    @property
    def tensors(self) -> list[torch.Tensor]:
        return [*self.args, *self.kwargs.values()]

    def call(self, model: Any) -> Any:
        return model(*self.args, **self.kwargs)

    def map(self, change: Any) -> ExampleInputs:
        return ExampleInputs(tuple(change(a) for a in self.args), {k: change(v) for k, v in self.kwargs.items()}, self.names)

    def dynamic_axes(self, requested: DynamicAxes) -> dict[str, dict[int, str]]:
        """``{input name: {axis: name}}`` for the exporter (torch's ``dynamic_axes`` form)."""
        if requested is True:
            axes: dict[str, dict[int, str]] = {}
            for name, tensor in zip(self.names, self.tensors, strict=True):
                if tensor.dim() == 0:
                    continue
                axes[name] = {0: "batch"}
                if tensor.dim() == 2 and not tensor.is_floating_point():
                    axes[name][1] = "sequence"  # token ids, attention masks, token type ids
            return axes
        if requested is False:
            return {}
        if not isinstance(requested, Mapping):
            raise ExportError(f"dynamic_axes must be True, False or {{input name: {{axis: name}}}}, not {requested!r}")
        axes = {}
        for name, chosen in requested.items():
            if name not in self.names:
                raise ExportError(f"dynamic_axes names input {name!r}, but the inputs are {', '.join(map(repr, self.names))}")
            rank = self.tensors[self.names.index(name)].dim()
            named = dict(chosen) if isinstance(chosen, Mapping) else {axis: f"{name}_dim{axis}" for axis in chosen}
            for axis in named:
                if not isinstance(axis, int) or not 0 <= axis < rank:
                    raise ExportError(f"dynamic_axes[{name!r}]: axis {axis!r} is not one of the input's {rank} axes")
            axes[name] = {int(axis): str(label) for axis, label in named.items()}
        return axes

    def for_export(self, axes: dict[str, dict[int, str]]) -> ExampleInputs:
        """The example with each dynamic axis of size 1 doubled: torch.export would fix a size-1 axis to 1."""
        return self._grow(lambda name, axis, size: size == 1 and axis in axes.get(name, {}))

    def scaled(self, axes: dict[str, dict[int, str]]) -> ExampleInputs:
        """The example repeated to twice its batch along a dynamic axis 0 (the second size the check runs at)."""
        return self._grow(lambda name, axis, size: axis == 0 and 0 in axes.get(name, {}))

    def _grow(self, chosen: Callable[[str, int, int], bool]) -> ExampleInputs:
        def grow(name: str, tensor: torch.Tensor) -> torch.Tensor:
            for axis in range(tensor.dim()):
                if chosen(name, axis, tensor.shape[axis]):
                    tensor = torch.cat([tensor, tensor], dim=axis)
            return tensor

        positional = len(self.args)
        args = tuple(grow(n, t) for n, t in zip(self.names[:positional], self.args, strict=True))
        kwargs = {k: grow(n, v) for n, (k, v) in zip(self.names[positional:], self.kwargs.items(), strict=True)}
        return ExampleInputs(args, kwargs, self.names)


def _positional_names(model: nn.Module, count: int) -> list[str]:
    """The forward's parameter names for ``count`` positional inputs (what the dynamo exporter calls them)."""
    try:
        parameters = list(inspect.signature(model.forward).parameters.values())
    except (TypeError, ValueError):
        parameters = []
    named = [p.name for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(named) >= count:
        return named[:count]
    return [f"input_{i}" for i in range(count)]


def flatten_outputs(result: Any) -> list[tuple[str, torch.Tensor]]:
    """The model's output as named tensors, in the order torch's exporters flatten it.

    A tensor is ``output``; a tuple's or list's items ``output_0``, ...; a dict's, ``ModelOutput``'s or
    dataclass's values are named after their keys (nested ones joined with ``.``). None values are skipped
    (a ``ModelOutput`` holds no None); anything else is refused.
    """
    flat: list[tuple[str, torch.Tensor]] = []

    def visit(value: Any, name: str) -> None:
        if isinstance(value, torch.Tensor):
            flat.append((name or "output", value))
        elif value is None:
            return
        elif isinstance(value, Mapping):
            for key, item in value.items():
                visit(item, f"{name}.{key}" if name else str(key))
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            if type(value) not in pytree.SUPPORTED_NODES:
                torch.export.register_dataclass(type(value))  # so that torch.export flattens it too, in field order
            for item in dataclasses.fields(value):
                visit(getattr(value, item.name), f"{name}.{item.name}" if name else item.name)
        elif isinstance(value, (tuple, list)):
            for index, item in enumerate(value):
                visit(item, f"{name}.{index}" if name else f"output_{index}")
        else:
            raise ExportError(
                f"the model's output {name or ''!r} is a {type(value).__name__}: ONNX outputs are tensors (in tuples, dicts or dataclasses)"
            )

    visit(result, "")
    return flat


def _output_names(model: nn.Module, runner: Any, inputs: ExampleInputs) -> list[str]:
    return [name for name, _ in _named_outputs(model, runner, inputs)]


def runner_for(model: nn.Module, runner: Any) -> Any:
    """``runner`` as seen from ``model``: the runner of a model that contains it, with its names' prefix removed.

    The callbacks attach to the LightningModule (``model.features.0.weight``), while the model a user
    exports is often the bare network inside it (``module.model``, ``features.0.weight``).
    """
    if runner is None:
        return None
    prefix = _prefix_of(model, runner)
    return runner if not prefix else _PrefixedRunner(runner, prefix)


def _prefix_of(model: nn.Module, runner: Any) -> str:
    attached = getattr(runner, "model", None)
    if attached is model or not isinstance(attached, nn.Module):
        return ""
    for name, module in attached.named_modules():
        if module is model:
            return name + "." if name else ""
    # Not a submodule of the attached model (a copy, a reloaded model): match names as attach does.
    from recipekit.runtime.misuse import WRAPPER_PREFIXES

    wanted = [*runner.masks()]
    quantization = quantization_of(runner)
    modules = [m.name for m in quantization.modules] if quantization is not None else []
    parameters, submodules = dict(model.named_parameters()), dict(model.named_modules())
    for prefix in ("", *WRAPPER_PREFIXES):
        if all(n.startswith(prefix) and n[len(prefix) :] in parameters for n in wanted) and all(
            m.startswith(prefix) and m[len(prefix) :] in submodules for m in modules
        ):
            return prefix
    example = (wanted or modules or ["?"])[0]
    raise ExportError(
        f"the runner's names do not match this model's (the runner has {example!r}, with or without a 'module.', 'model.' or "
        "'_orig_mod.' prefix): pass the model the runner was attached to, or a submodule of it"
    )


class _PrefixedRunner:
    """What the export reads of a runner (masks, quantization), named as in a submodule of its model."""

    def __init__(self, runner: Any, prefix: str) -> None:
        self._runner, self._prefix = runner, prefix

    def masks(self) -> dict[str, torch.Tensor]:
        cut = len(self._prefix)
        return {name[cut:]: mask for name, mask in self._runner.masks().items() if name.startswith(self._prefix)}

    @property
    def quantization(self) -> Any:
        quantization = quantization_of(self._runner)
        if quantization is None:
            return None
        view = copy.copy(quantization)
        cut = len(self._prefix)
        view.modules = [dataclasses.replace(m, name=m.name[cut:]) for m in quantization.modules if m.name.startswith(self._prefix)]
        return view


def _export(
    model: nn.Module,
    inputs: ExampleInputs,
    opset: int,
    exporter: str,
    input_names: Sequence[str],
    output_names: Sequence[str],
    dynamic_axes: dict[str, dict[int, str]],
) -> Any:
    import onnx

    names: dict[str, Any] = {"input_names": list(input_names), "output_names": list(output_names)}
    if dynamic_axes:
        names["dynamic_axes"] = dynamic_axes
    with _quiet(), torch.no_grad():
        if exporter == "dynamo":
            _symbolic_fake_quantize()
            try:
                program = torch.onnx.export(
                    model, inputs.args, None, kwargs=inputs.kwargs, dynamo=True, opset_version=opset, optimize=True, **names
                )
            except ImportError as error:
                raise ExportError(f"{error}: install the onnx extra (pip install 'recipekit[onnx]')") from None
            assert program is not None
            return program.model_proto
        with tempfile.TemporaryDirectory() as scratch:
            legacy = Path(scratch) / "legacy.onnx"
            args = (*inputs.args, inputs.kwargs) if inputs.kwargs else inputs.args
            torch.onnx.export(model, args, legacy, dynamo=False, opset_version=opset, do_constant_folding=True, **names)
            return onnx.load(str(legacy))


_FAKE_QUANTIZE_SHAPES: list[bool] = []


def _symbolic_fake_quantize() -> None:
    """Give torch.export the output shapes of per-tensor fake quantization with tensor qparams.

    torch 2.13 has no fake (meta) kernel for the op: with concrete shapes torch.export runs the real
    one on zeros, but a dynamic batch or sequence axis is symbolic and the export fails with
    ``UnsupportedOperatorException``. The op returns a tensor and a mask of its input's shape.
    """
    if _FAKE_QUANTIZE_SHAPES:
        return
    _FAKE_QUANTIZE_SHAPES.append(True)
    with contextlib.suppress(RuntimeError):  # a torch with its own fake kernel refuses a second one

        @torch.library.register_fake("aten::_fake_quantize_per_tensor_affine_cachemask_tensor_qparams")  # type: ignore[untyped-decorator]
        def _shapes(x: torch.Tensor, *args: Any) -> tuple[torch.Tensor, torch.Tensor]:
            return torch.empty_like(x), torch.empty_like(x, dtype=torch.bool)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """torch's exporter prints progress, logs that torchvision is absent and warns from its own
    internals (deprecations); none of it is about the user's model, and the report says what matters."""
    registration = logging.getLogger("torch.onnx._internal.exporter._registration")
    level = registration.level
    registration.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        registration.setLevel(level)


def _save(proto: Any, path: Path, final_name: str) -> None:
    """Write ``proto`` at ``path``; weights beyond protobuf's limit go to ``<final_name>.data`` beside it."""
    import onnx

    path.parent.mkdir(parents=True, exist_ok=True)
    large = proto.ByteSize() > _EXTERNAL_DATA_BYTES
    onnx.save_model(proto, str(path), save_as_external_data=large, location=final_name + ".data" if large else None)


def _discard_external_data(path: Path) -> None:
    path.with_name(path.name + ".data").unlink(missing_ok=True)


def _report(proto: Any, prepared: Prepared, path: Path, opset: int, exporter: str, int8_weights: bool) -> ExportReport:
    from recipekit.export import graph

    activation_qdq, weight_qdq = graph.qdq_counts(proto)
    names = graph.name_map(proto)
    report = ExportReport(
        path,
        opset,
        exporter,
        prepared.quantized,
        int8_weights and prepared.quantized,
        _size(path),
        activation_qdq,
        weight_qdq,
        folded=dict(prepared.folded),
    )
    for name, (dtype, shape, zeros, numel) in graph.initializer_zeros(proto).items():
        origin = names.get(name, {})
        parameter = origin.get("parameter", "")
        report.initializers.append(
            InitializerReport(
                name,
                parameter,
                dtype,
                tuple(shape),
                zeros,
                numel,
                origin.get("folded_bn", ""),
                None if "role" in origin else prepared.parameter_zeros.get(parameter),
                origin.get("role", ""),
            )
        )
    return report


def _size(path: Path) -> int:
    data = path.with_name(path.name + ".data")
    return path.stat().st_size + (data.stat().st_size if data.exists() else 0)


def _check(
    report: ExportReport, model: nn.Module, runner: Any, inputs: ExampleInputs, proto: Any, path: Path, axes: dict[str, dict[int, str]]
) -> None:
    """onnxruntime against torch at the example's batch size and, when the batch axis is dynamic, at twice it."""
    import onnxruntime

    from recipekit.export import check, reference

    quantization = quantization_of(runner) if report.quantized else None
    weights = {id(m.weight) for m in quantization.modules if m.weight is not None} if quantization is not None else set()
    order = [value.name for value in proto.graph.input]
    steps = check.output_steps(proto)
    sizes = [inputs] + ([inputs.scaled(axes)] if any(0 in named for named in axes.values()) else [])
    for number, sample in enumerate(sizes):
        with reference.recording(weights) as records:
            expected = [out.numpy() for out in torch_outputs(model, runner, sample)]
        named = dict(zip(sample.names, (x.detach().cpu().numpy() for x in sample.tensors), strict=True))
        feeds = [named[name] for name in order]
        actual, nodes = check.run_nodes(path, feeds)
        quantizers: list[Any] = []
        if not report.quantized:
            outputs = check.compare(expected, actual, steps, False)
        else:
            # onnxruntime fed torch's integers at every activation quantizer (check.py's docstring says why).
            forced, unpaired = check.match(proto, records)
            try:
                forced_outputs, integers = check.run_forced(proto, feeds, forced)
            except Exception:  # noqa: BLE001 - onnxruntime refusing the cut copy: compare end to end, every quantizer unpaired
                forced_outputs, integers, unpaired = actual, [], unpaired + len(forced)
                forced = []
            quantizers = check.compare_quantizers(forced, integers)
            end_to_end = check.compare(expected, actual, steps, True)
            outputs = [
                dataclasses.replace(out, end_to_end=free.within)
                for out, free in zip(check.compare(expected, forced_outputs, steps, True), end_to_end, strict=True)
            ]
        if number == 0:
            report.fused_kernels = {}
            for op, _ in nodes:
                report.fused_kernels[op] = report.fused_kernels.get(op, 0) + 1
            _assign_kernels(report, nodes)
            report.onnxruntime = onnxruntime.__version__
            report.outputs = outputs
            if report.quantized:
                report.quantizers, report.unpaired_quantizers = quantizers, unpaired
        batch = f" at batch size {sample.tensors[0].shape[0]}" if number else ""
        wrong = next((q for q in quantizers if not q.passed), None)
        if wrong is not None:
            raise ExportError(
                f"{report.path}: onnxruntime's QuantizeLinear with scale {wrong.name!r}{batch} differs from torch's integers: "
                f"{wrong.within:.2%} equal, max |difference| {wrong.max_abs_diff:g}, torch's value up to {wrong.tie_distance:.3g} steps "
                f"from a rounding boundary where they differ (a difference of one is accepted within {check.TIE_STEPS:g} steps of one: "
                "a rounding tie). It is not a faithful export; please report it"
            )
        failed = [out for out in outputs if not out.passed]
        if failed:
            out = failed[0]
            if out.step_source == "fp32":
                bound = f"{check.FP32_TOLERANCE:g} (relative and absolute)"
            else:
                bound = f"one output quantization step ({out.step:.4g}) on {check.QUANTIZED_FRACTION:.0%} of elements"
            raise ExportError(
                f"{report.path}: onnxruntime's output {out.index}{batch} differs from torch's beyond the bound: {out.within:.2%} of "
                f"elements within {bound}, max |difference| {out.max_abs_diff:.4g}. It is not a faithful export; please report it"
            )


def _assign_kernels(report: ExportReport, nodes: list[tuple[str, list[str]]]) -> None:
    """Name each quantized Conv/Linear's int8 kernel: the kernel node that reads the module's weight scale."""
    by_scale = {layer.weight_scale: layer for layer in report.layers}
    for op, node_inputs in nodes:
        for name in node_inputs:
            layer = by_scale.get(name)
            if layer is not None and not layer.kernel:
                layer.kernel, layer.reason = op, ""
                break
    for layer in report.layers:
        if not layer.kernel and not layer.reason:
            layer.reason = "onnxruntime did not fuse it"


def _named_outputs(model: nn.Module, runner: Any, inputs: ExampleInputs) -> list[tuple[str, torch.Tensor]]:
    quantization = quantization_of(runner)
    quantizers = [q for m in quantization.modules for q in m.quantizers().values()] if quantization is not None else []
    observing = [q.observing for q in quantizers]
    modes = [(module, module.training) for module in model.modules()]
    try:
        for quantizer in quantizers:
            quantizer.observing = False
        model.eval()
        with torch.no_grad():
            result = inputs.call(model)
    finally:
        for quantizer, flag in zip(quantizers, observing, strict=True):
            quantizer.observing = flag
        for module, training in modes:
            module.training = training
    return flatten_outputs(result)


def torch_outputs(model: nn.Module, runner: Any, inputs: Any) -> list[torch.Tensor]:
    """The model's outputs in eval mode with its observers frozen, flattened as the ONNX outputs are; modes and observers are restored.

    ``inputs`` is a tuple of positional tensors (or ``to_onnx``'s example inputs: a tensor, a dict).
    """
    example = inputs if isinstance(inputs, ExampleInputs) else ExampleInputs.of(model, inputs)
    return [out.detach().float().cpu() for _, out in _named_outputs(model, runner_for(model, runner), example)]


__all__ = ["ExampleInputs", "ExportError", "flatten_outputs", "to_onnx", "torch_outputs"]
