"""``to_onnx``: the trained model, as a QDQ ONNX file that onnxruntime runs with int8 kernels.

Steps: check that every quantizer can be written as QDQ (ExportError naming the module
otherwise); copy the model in eval mode with frozen quantizers and the simulated
Conv+BatchNorm folds made real (prepare.py); export the copy with torch's default (dynamo)
exporter; replace each weight's QuantizeLinear by its int8 integers and record a name map
(graph.py); save; run onnxruntime against torch (check.py). The user's model is not modified.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from recipekit.export.prepare import ExportError, Prepared, prepare, quantization_of
from recipekit.export.report import ExportReport, InitializerReport, LayerReport

#: torch 2.13's default ONNX opset; QDQ with per-channel weights needs 13 or later.
DEFAULT_OPSET = 20
MIN_OPSET = 13
#: Above this, the weights go to an external data file next to the model (protobuf's 2 GB limit).
_EXTERNAL_DATA_BYTES = 1 << 30


def to_onnx(
    model: nn.Module,
    example_inputs: torch.Tensor | Sequence[torch.Tensor],
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
    print_report: bool = True,
) -> ExportReport:
    """Export ``model`` (trained with ``runner = recipekit.runtime.attach(...)``) to ONNX at ``path``.

    With QAT, the graph is QDQ: QuantizeLinear/DequantizeLinear around Conv/Gemm/MatMul/Gather,
    BatchNorms folded, weights as int8 initializers (``int8_weights``; fp32 + Q/DQ otherwise).
    Without QAT (pruned only) it is plain fp32; pruned weights are exact zeros either way.
    ``int32_bias`` writes fusable layers' biases as int32 + DequantizeLinear (what onnxruntime needs
    to fuse a Linear into QGemm); ``fp32_float_weights`` writes the weights of layers that stay float
    kernels in fp32 (faster, bigger file). See docs/export.md, "Speed".
    ``exporter="legacy"`` uses torch's TorchScript exporter, for models ``torch.export`` cannot
    trace (data-dependent control flow); it is deprecated and warns.
    Raises :class:`ExportError` before writing anything when the quantization cannot be
    expressed as QDQ, and after writing when onnxruntime disagrees with torch beyond the bound
    of docs/export.md. Returns the report (printed unless ``print_report=False``).
    """
    if not MIN_OPSET <= opset <= 23:
        raise ExportError(f"opset {opset} is not supported: QDQ with per-channel weights needs opset 13 to 23")
    if exporter not in ("dynamo", "legacy"):
        raise ExportError(f"exporter {exporter!r} is neither 'dynamo' (torch's default) nor 'legacy'")
    inputs = (example_inputs,) if isinstance(example_inputs, torch.Tensor) else tuple(example_inputs)
    path = Path(path)
    prepared = prepare(model, runner)
    proto = _export(prepared.model, inputs, opset, exporter, input_names, output_names)

    from recipekit.export import graph

    if prepared.quantized and int8_weights:
        graph.fold_weight_quantizers(proto, prepared)
    layers = _fusion_passes(proto, prepared, int32_bias, fp32_float_weights) if prepared.quantized else []
    graph.strip_debug_metadata(proto)
    graph.add_name_map(proto, prepared)
    _save(proto, path)
    report = _report(proto, prepared, path, opset, exporter, int8_weights)
    report.layers = layers
    if check:
        _check(report, model, runner, inputs, proto, path)
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
    if int32_bias:
        for name, bias in fusion.quantize_biases(g, names).items():
            origin = prepared.origins.get(bias, {"parameter": bias})
            role = {"_int32": "int32 bias", "_scale": "bias scale", "_zero_point": "bias zero_point"}
            prepared.origins[name] = {**origin, "role": next(r for suffix, r in role.items() if name.endswith(suffix))}
    predicted = [LayerReport(p.module, p.kind, p.weight_scale, reason=p.reason or "") for p in fusion.predict(g, names)]
    if fp32_float_weights:
        fusion.float_weights(g, names)
    return predicted


def _export(
    model: nn.Module,
    inputs: tuple[torch.Tensor, ...],
    opset: int,
    exporter: str,
    input_names: Sequence[str] | None,
    output_names: Sequence[str] | None,
) -> Any:
    import onnx

    names: dict[str, Any] = {"input_names": list(input_names) if input_names else None}
    names["output_names"] = list(output_names) if output_names else None
    with _quiet(), torch.no_grad():
        if exporter == "dynamo":
            try:
                program = torch.onnx.export(model, inputs, None, dynamo=True, opset_version=opset, optimize=True, **names)
            except ImportError as error:
                raise ExportError(f"{error}: install the onnx extra (pip install 'recipekit[onnx]')") from None
            assert program is not None
            return program.model_proto
        with tempfile.TemporaryDirectory() as scratch:
            legacy = Path(scratch) / "legacy.onnx"
            torch.onnx.export(model, inputs, legacy, dynamo=False, opset_version=opset, do_constant_folding=True, **names)
            return onnx.load(str(legacy))


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


def _save(proto: Any, path: Path) -> None:
    import onnx

    path.parent.mkdir(parents=True, exist_ok=True)
    large = proto.ByteSize() > _EXTERNAL_DATA_BYTES
    onnx.save_model(proto, str(path), save_as_external_data=large, location=path.name + ".data" if large else None)


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


def _check(report: ExportReport, model: nn.Module, runner: Any, inputs: tuple[torch.Tensor, ...], proto: Any, path: Path) -> None:
    import dataclasses

    import onnxruntime

    from recipekit.export import check, reference

    quantization = quantization_of(runner) if report.quantized else None
    weights = {id(m.weight) for m in quantization.modules if m.weight is not None} if quantization is not None else set()
    with reference.recording(weights) as records:
        expected = [out.numpy() for out in torch_outputs(model, runner, inputs)]
    feeds = [x.detach().cpu().numpy() for x in inputs]
    actual, nodes = check.run_nodes(path, feeds)
    report.fused_kernels = {}
    for op, _ in nodes:
        report.fused_kernels[op] = report.fused_kernels.get(op, 0) + 1
    _assign_kernels(report, nodes)
    report.onnxruntime = onnxruntime.__version__
    steps = check.output_steps(proto)
    if not report.quantized:
        report.outputs = check.compare(expected, actual, steps, False)
    else:
        # onnxruntime fed torch's integers at every activation quantizer (check.py's docstring says why).
        forced, report.unpaired_quantizers = check.match(proto, records)
        try:
            forced_outputs, integers = check.run_forced(proto, feeds, forced)
        except Exception:  # noqa: BLE001 - onnxruntime refusing the cut copy: compare end to end, every quantizer unpaired
            forced_outputs, integers, report.unpaired_quantizers = actual, [], report.unpaired_quantizers + len(forced)
            forced = []
        report.quantizers = check.compare_quantizers(forced, integers)
        end_to_end = check.compare(expected, actual, steps, True)
        report.outputs = [
            dataclasses.replace(out, end_to_end=free.within)
            for out, free in zip(check.compare(expected, forced_outputs, steps, True), end_to_end, strict=True)
        ]
    wrong = next((q for q in report.quantizers if not q.passed), None)
    if wrong is not None:
        raise ExportError(
            f"{path}: onnxruntime's QuantizeLinear with scale {wrong.name!r} differs from torch's integers: {wrong.within:.2%} equal, "
            f"max |difference| {wrong.max_abs_diff:g}, torch's value up to {wrong.tie_distance:.3g} steps from a rounding boundary "
            f"where they differ (a difference of one is accepted within {check.TIE_STEPS:g} steps of one: a rounding tie). "
            "The file was written but is not a faithful export; please report it"
        )
    failed = [out for out in report.outputs if not out.passed]
    if failed:
        out = failed[0]
        if out.step_source == "fp32":
            bound = f"{check.FP32_TOLERANCE:g} (relative and absolute)"
        else:
            bound = f"one output quantization step ({out.step:.4g}) on {check.QUANTIZED_FRACTION:.0%} of elements"
        raise ExportError(
            f"{path}: onnxruntime's output {out.index} differs from torch's beyond the bound: {out.within:.2%} of elements within "
            f"{bound}, max |difference| {out.max_abs_diff:.4g}. The file was written but is not a faithful export; please report it"
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


def torch_outputs(model: nn.Module, runner: Any, inputs: tuple[torch.Tensor, ...]) -> list[torch.Tensor]:
    """The model's outputs in eval mode with its observers frozen; its modes and observers are restored."""
    quantization = quantization_of(runner)
    quantizers = [q for m in quantization.modules for q in m.quantizers().values()] if quantization is not None else []
    observing = [q.observing for q in quantizers]
    modes = [(module, module.training) for module in model.modules()]
    try:
        for quantizer in quantizers:
            quantizer.observing = False
        model.eval()
        with torch.no_grad():
            result = model(*inputs)
    finally:
        for quantizer, flag in zip(quantizers, observing, strict=True):
            quantizer.observing = flag
        for module, training in modes:
            module.training = training
    outputs = [result] if isinstance(result, torch.Tensor) else list(result)
    return [out.detach().float().cpu() for out in outputs]


__all__ = ["ExportError", "to_onnx", "torch_outputs"]
