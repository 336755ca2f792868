"""onnxruntime CPU latency of recipekit's int8 export against fp32 and against onnxruntime's own quantizer.

Every file is exported with fixed shapes (``dynamic_axes=False``): the shapes served, and what lets
onnxruntime fold a 3-D Linear into QGemm (docs/export.md, "Speed").

Two models, each QAT-trained for a few steps through ``recipekit.runtime.attach`` (random data):

- cnn: a ResNet-18 written as SparseML's own ResNets were (sparseml.pytorch.models.classification.resnet:
  7x7 stem Conv-BN-ReLU and MaxPool, 4 stages of 2 BasicBlocks whose residual Add and ReLU are a
  FloatFunctional's ``add_relu``, 3 downsample convs, AdaptiveAvgPool2d, Flatten, Linear 512->1000;
  20 Conv+BatchNorm pairs, all folded), batch 1 at --res (default 224);
- bert: transformers' BertModel with a random config (hidden 768, 12 heads, intermediate 3072,
  vocab 30522, --layers 4, no pooler), batch 1 of --seq (default 128) token ids, given SparseML's
  quantizable attention matmuls (``quantize_attention``: a BertModel is one SparseML's Hugging Face
  integration modified), so Q·Kᵀ and P·V are quantized as well as the 24 Linears.

Variants, per model, all in one process:

- fp32: the same trained weights with QAT removed (``runner.detach()``), ``to_onnx(model, x, path)``;
- rk-tensor / rk-channel: ``to_onnx(model, x, path, runner=runner)`` after QAT. bert: the default
  scheme (int8 symmetric per-tensor weights, uint8 per-tensor inputs) / with ``weights: {strategy:
  channel}``. cnn: a new-style scheme with ``output_activations`` (int8 symmetric weights per tensor /
  per channel, uint8 activations): SparseML quantized every quantizable leaf's input and output and,
  through the FloatFunctional's activation_post_process, every residual Add's output, so training
  simulates every quantizer of an all-integer network;
- rk-legacy (cnn only): the QAT of SparseML's ResNet-50 recipes (legacy QuantizationModifier on the
  backbone, ``submodules: [conv, layer1, ..., layer4]``, the classifier float; conv outputs quantized
  by its default quantize_conv_activations). The legacy modifier removed the FloatFunctional's output
  quantizer, so the residual Adds stay float in training and in the file;
- ort-tensor / ort-channel: onnxruntime's ``quant_pre_process`` + ``quantize_static`` of the fp32 file
  (QDQ, uint8 activations, int8 weights, MinMax on 8 random samples), per tensor / per channel: the
  reference for what int8 can do on this CPU.

Every variant gets its own onnxruntime session (CPU provider, default optimisation level, 1 intra-op
and 1 inter-op thread). Each round runs every variant once on the same input, the order rotating by
one per round, after warm-up rounds, so machine drift hits all alike. Printed per variant: median
latency, fp32/variant (the median of the per-round ratios; above 1: faster than fp32), for recipekit's
variants the speed relative to onnxruntime's quantizer of the same scheme (ort ms / recipekit ms;
1.00 = as fast), the int8 kernels onnxruntime fused and, for recipekit, how many quantized Conv/Linear
modules run as int8 kernels. What the QAT does not quantize stays float.

Run: .venv/bin/python bench/export_latency.py [--rounds 40] [--res 224] [--seq 128] [--layers 4] [--models cnn bert]
(needs the torch and onnx extras, and transformers for bert)
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import torch
from torch import nn

import recipekit
from recipekit.export import ExportError, to_onnx
from recipekit.export.check import INT8_KERNELS
from recipekit.runtime import attach

RECIPE = """
modifiers:
  - !EpochRangeModifier
    start_epoch: 0.0
    end_epoch: 3.0
  - !QuantizationModifier
    start_epoch: 0.0
    freeze_bn_stats_epoch: 2.0
{scheme}
"""
CHANNEL = """    scheme:
      input_activations: {num_bits: 8, symmetric: false, strategy: tensor}
      weights: {num_bits: 8, symmetric: true, strategy: channel}
"""
# The CNN's QAT as SparseML's ResNet-50 recipes wrote it (resnet50-pruned_quant: the legacy modifier
# on the backbone, `submodules: [input, sections]`, here this model's names for them; the classifier
# stays float): the legacy modifier's default quantize_conv_activations fake-quantizes every fused
# Conv-BN(-ReLU) output, so each convolution exports as DQ -> Conv -> Q (QLinearConv); it removed the
# FloatFunctional's output quantizer, so the residual Adds stay float.
CNN_LEGACY = """
modifiers:
  - !EpochRangeModifier
    start_epoch: 0.0
    end_epoch: 3.0
  - !QuantizationModifier
    start_epoch: 0.0
    submodules: [conv, layer1, layer2, layer3, layer4]
    disable_quantization_observer_epoch: 2.5
    freeze_bn_stats_epoch: 2.0
"""


def cnn_scheme(weights: str) -> str:
    """A new-style scheme quantizing every leaf's input and output, the residual Adds' included."""
    return RECIPE.format(
        scheme=f"""    scheme:
      input_activations: {{num_bits: 8, symmetric: false, strategy: tensor}}
      output_activations: {{num_bits: 8, symmetric: false, strategy: tensor}}
      weights: {{num_bits: 8, symmetric: true, strategy: {weights}}}
"""
    )


STEPS_PER_EPOCH = 2


class BasicBlock(nn.Module):
    """SparseML's ResNet BasicBlock: the Add and its ReLU through a FloatFunctional."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        from torch.ao.nn.quantized import FloatFunctional

        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.act1 = nn.ReLU()
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.identity: nn.Module | None = None
        if stride != 1 or cin != cout:
            self.identity = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
        self.add_relu = FloatFunctional()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.identity is None else self.identity(x)
        out = self.bn2(self.conv2(self.act1(self.bn1(self.conv1(x)))))
        result: torch.Tensor = self.add_relu.add_relu(identity, out)
        return result


class ResNet18(nn.Module):
    def __init__(self, classes: int = 1000) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn = nn.BatchNorm2d(64)
        self.act = nn.ReLU()
        self.pool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = nn.Sequential(BasicBlock(64, 64, 1), BasicBlock(64, 64, 1))
        self.layer2 = nn.Sequential(BasicBlock(64, 128, 2), BasicBlock(128, 128, 1))
        self.layer3 = nn.Sequential(BasicBlock(128, 256, 2), BasicBlock(256, 256, 1))
        self.layer4 = nn.Sequential(BasicBlock(256, 512, 2), BasicBlock(512, 512, 1))
        self.avg = nn.AdaptiveAvgPool2d(1)
        self.flat = nn.Flatten()
        self.fc = nn.Linear(512, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.act(self.bn(self.conv(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        out: torch.Tensor = self.fc(self.flat(self.avg(x)))
        return out


class Bert(nn.Module):
    """transformers' BertModel (no pooler): input_ids -> last_hidden_state."""

    def __init__(self, layers: int) -> None:
        super().__init__()
        from transformers import BertConfig, BertModel

        config = BertConfig(
            vocab_size=30522,
            hidden_size=768,
            num_hidden_layers=layers,
            num_attention_heads=12,
            intermediate_size=3072,
            max_position_embeddings=512,
            attn_implementation="eager",
        )
        self.bert = BertModel(config, add_pooling_layer=False)
        # SparseML's HF integration gave a BertModel quantizable attention matmuls (Q·Kᵀ, P·V) on loading:
        # the rk variants quantize them (QLinearMatMul); fp32 runs them as plain MatMuls.
        from recipekit.integrations.attention import quantize_attention

        quantize_attention(self.bert, None)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.bert(input_ids=ids).last_hidden_state
        return out


def trained(model: nn.Module, recipe: str, batch: Callable[[int], torch.Tensor]) -> Any:
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9)
    plan = recipekit.compile_recipe(recipe, STEPS_PER_EPOCH)
    runner = attach(plan, model, optimizer)
    for step in range(plan.total_steps):
        optimizer.zero_grad()
        model(batch(step)).float().pow(2).mean().backward()
        optimizer.step()
    runner.finalize()
    return runner


def export_checked(model: nn.Module, x: torch.Tensor, path: Path, runner: Any, **options: Any) -> Any:
    """to_onnx with its check; a failed check is printed and the file exported again without it."""
    try:
        return to_onnx(model, x, path, runner=runner, dynamic_axes=False, print_report=False, **options)
    except ExportError as error:
        print(f"  CHECK FAILED for {path.name}: {error}")
        return to_onnx(model, x, path, runner=runner, dynamic_axes=False, print_report=False, check=False, **options)


class Calibration:
    """quantize_static's calibration reader: random inputs of the exported shape."""

    def __init__(self, name: str, feeds: list[np.ndarray[Any, Any]]) -> None:
        self.name, self.feeds = name, list(feeds)

    def get_next(self) -> dict[str, np.ndarray[Any, Any]] | None:
        return {self.name: self.feeds.pop(0)} if self.feeds else None

    def rewind(self) -> None:
        pass


def onnxruntime_quantized(fp32: Path, folder: Path, batch: Callable[[int], torch.Tensor]) -> dict[str, Path]:
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    pre = folder / (fp32.stem + "-pre.onnx")
    quant_pre_process(str(fp32), str(pre))
    name = ort.InferenceSession(str(pre), providers=["CPUExecutionProvider"]).get_inputs()[0].name
    paths = {}
    for variant, per_channel in (("ort-tensor", False), ("ort-channel", True)):
        paths[variant] = folder / f"{fp32.stem}-{variant}.onnx"
        quantize_static(
            str(pre),
            str(paths[variant]),
            Calibration(name, [batch(2000 + i).numpy() for i in range(8)]),
            quant_format=QuantFormat.QDQ,
            per_channel=per_channel,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
        )
    return paths


def session(path: Path, optimized: Path | None = None) -> Any:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3
    if optimized is not None:
        options.optimized_model_filepath = str(optimized)
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def kernels(path: Path) -> str:
    with tempfile.TemporaryDirectory() as scratch:
        optimized = Path(scratch) / "optimized.onnx"
        session(path, optimized)
        counts: dict[str, int] = {}
        for node in onnx.load(str(optimized), load_external_data=False).graph.node:
            if node.op_type in INT8_KERNELS or node.op_type in ("QLinearAdd", "QLinearSoftmax", "QLinearConcat"):
                counts[node.op_type] = counts.get(node.op_type, 0) + 1
    return ", ".join(f"{op} x{n}" for op, n in sorted(counts.items())) or "none"


def build(name: str, args: argparse.Namespace, folder: Path) -> tuple[dict[str, Path], dict[str, Any], np.ndarray[Any, Any]]:
    """Train, export and quantize one model; returns the files, recipekit's reports and the input."""
    batch: Callable[[int], torch.Tensor]
    if name == "cnn":
        make: Callable[[], nn.Module] = ResNet18
        batch = lambda s: torch.randn(1, 3, args.res, args.res, generator=torch.Generator().manual_seed(s))  # noqa: E731
        train_batch = lambda s: torch.randn(4, 3, args.res, args.res, generator=torch.Generator().manual_seed(s))  # noqa: E731
    else:
        make = lambda: Bert(args.layers)  # noqa: E731
        batch = lambda s: torch.randint(0, 30522, (1, args.seq), generator=torch.Generator().manual_seed(s))  # noqa: E731
        train_batch = lambda s: torch.randint(0, 30522, (4, args.seq), generator=torch.Generator().manual_seed(s))  # noqa: E731
    x = batch(1000)
    torch.manual_seed(0)
    base = make()
    paths: dict[str, Path] = {}
    reports: dict[str, Any] = {}
    recipes = {"rk-tensor": RECIPE.format(scheme=""), "rk-channel": RECIPE.format(scheme=CHANNEL)}
    if name == "cnn":
        recipes = {"rk-tensor": cnn_scheme("tensor"), "rk-channel": cnn_scheme("channel"), "rk-legacy": CNN_LEGACY}
    for variant, recipe in recipes.items():
        model = make()
        model.load_state_dict(base.state_dict())
        torch.manual_seed(0)
        started = time.perf_counter()
        runner = trained(model, recipe, train_batch)
        paths[variant] = folder / f"{name}-{variant}.onnx"
        reports[variant] = export_checked(model, x, paths[variant], runner)
        if variant == "rk-tensor":
            runner.detach()  # the same trained weights without fake quantization: the fp32 model
            paths["fp32"] = folder / f"{name}-fp32.onnx"
            to_onnx(model, x, paths["fp32"], dynamic_axes=False, print_report=False)
        print(f"  {name} {variant}: trained and exported in {time.perf_counter() - started:.0f} s", flush=True)
    paths.update(onnxruntime_quantized(paths["fp32"], folder, batch))
    return paths, reports, x.numpy()


def measure(name: str, paths: dict[str, Path], reports: dict[str, Any], x: np.ndarray[Any, Any], rounds: int) -> None:
    order = ["fp32"] + [v for v in paths if v != "fp32"]
    sessions = {v: session(paths[v]) for v in order}
    feeds = {v: {s.get_inputs()[0].name: x} for v, s in sessions.items()}
    for _ in range(3):
        for v in order:
            sessions[v].run(None, feeds[v])
    times: dict[str, list[float]] = {v: [] for v in order}
    load = os.getloadavg()[0]
    for r in range(rounds):
        k = r % len(order)
        for v in order[k:] + order[:k]:
            start = time.perf_counter()
            sessions[v].run(None, feeds[v])
            times[v].append(time.perf_counter() - start)
    median = {v: statistics.median(t) * 1e3 for v, t in times.items()}
    print(f"{name}: {rounds} interleaved rounds, 1 thread, load {load:.1f} -> {os.getloadavg()[0]:.1f}")
    for v in order:
        ratio = statistics.median(f / t for f, t in zip(times["fp32"], times[v], strict=True))
        line = f"  {v:<16} {median[v]:8.2f} ms  fp32/x {ratio:5.2f}"
        reference = "ort-channel" if v == "rk-channel" else "ort-tensor"
        if v.startswith("rk-"):
            vs_ort = statistics.median(o / t for o, t in zip(times[reference], times[v], strict=True))
            line += f"  vs {reference} {vs_ort:5.2f}"
        else:
            line += " " * 24
        size = paths[v].stat().st_size / 2**20
        line += f"  {size:6.1f} MB  int8 kernels: {kernels(paths[v])}"
        report = reports.get(v)
        if report is not None and report.layers and report.checked:
            line += f"  (fused {len(report.fused_layers)}/{len(report.layers)} Conv/Linear/MatMul)"
        print(line, flush=True)
    for v, report in reports.items():
        if not report.checked:
            continue
        reasons: dict[str, int] = {}
        for reason in report.float_layers.values():
            reasons[reason] = reasons.get(reason, 0) + 1
        if reasons:
            print(f"  {v}: left float: " + ", ".join(f"{n} ({reason})" for reason, n in reasons.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--res", type=int, default=224)
    parser.add_argument("--seq", type=int, default=128)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--models", nargs="+", default=["cnn", "bert"], choices=["cnn", "bert"])
    args = parser.parse_args()
    torch.set_num_threads(2)
    print(f"torch {torch.__version__}, onnxruntime {ort.__version__}, numpy {np.__version__}")
    with tempfile.TemporaryDirectory() as scratch:
        built = {name: build(name, args, Path(scratch)) for name in args.models}
        for name, (paths, reports, x) in built.items():
            measure(name, paths, reports, x, args.rounds)


if __name__ == "__main__":
    main()
