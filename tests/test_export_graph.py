"""The export's graph passes (export/fusion.py) and its check: what onnxruntime fuses, and the bound."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxscript")
ort = pytest.importorskip("onnxruntime")

import numpy as np  # noqa: E402
from onnx import numpy_helper  # noqa: E402
from torch import nn  # noqa: E402

import recipekit  # noqa: E402
from recipekit.export import (  # noqa: E402
    ExportError,
    onnx_export,
    to_onnx,
)
from recipekit.export import graph as export_graph  # noqa: E402
from recipekit.runtime import attach  # noqa: E402
from tests.test_export import BERT_RECIPE, CNN_RECIPE, Cnn, TinyBert, bert_batch, cnn_batch, train  # noqa: E402

CHANNEL_RECIPE = """
modifiers:
  - !EpochRangeModifier
    start_epoch: 0.0
    end_epoch: 1.0
  - !QuantizationModifier
    start_epoch: 0.0
    scheme:
      input_activations: {num_bits: 8, symmetric: false, strategy: tensor}
      weights: {num_bits: 8, symmetric: true, strategy: channel}
"""


@pytest.fixture(scope="module")
def cnn() -> tuple[nn.Module, Any]:
    torch.manual_seed(0)
    model = Cnn()
    return model, train(model, CNN_RECIPE, cnn_batch)


@pytest.fixture(scope="module")
def bert() -> tuple[nn.Module, Any]:
    torch.manual_seed(0)
    model = TinyBert()
    return model, train(model, BERT_RECIPE, bert_batch)


def initializers(path: Path) -> dict[str, np.ndarray[Any, Any]]:
    return {init.name: numpy_helper.to_array(init) for init in onnx.load(str(path)).graph.initializer}


def run_to(path: Path, tensor: str, feed: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """The value of an intermediate tensor, onnxruntime running the file as written (no fusion)."""
    proto = onnx.load(str(path))
    proto.graph.output.append(onnx.helper.make_tensor_value_info(tensor, onnx.TensorProto.FLOAT, None))
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(proto.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return np.asarray(session.run([tensor], {session.get_inputs()[0].name: feed})[0])


def test_every_linear_gets_an_int32_bias_and_runs_as_qgemm(bert: tuple[nn.Module, Any], tmp_path: Path) -> None:
    model, runner = bert
    # Fixed shapes: onnxruntime fuses a 3-D MatMul+Add into Gemm (then QGemm) only when it knows the shapes;
    # with dynamic batch/sequence axes the same Linear runs as MatMulIntegerToFloat (docs/export.md, "Speed").
    report = to_onnx(model, bert_batch(100), tmp_path / "bert.onnx", runner=runner, dynamic_axes=False, print_report=False)
    assert [(layer.module, layer.kind, layer.kernel) for layer in report.layers] == [
        ("encoder.0", "Linear", "QGemm"),
        ("encoder.2", "Linear", "QGemm"),
        ("head", "Linear", "QGemm"),
    ]
    assert report.fused and report.float_layers == {}
    values = initializers(report.path)
    for module in ("encoder.0", "encoder.2", "head"):
        quantized = next(m for m in runner.quantization.modules if m.name == module)
        s_x, _ = quantized.input.qparams()
        s_w, _ = quantized.weight.qparams()
        scale = np.float32(s_x.item()) * np.float32(s_w.item())
        bias = quantized.module.bias.detach().numpy()
        assert values[module + ".bias_int32"].dtype == np.int32
        assert np.array_equal(values[module + ".bias_int32"], np.round(bias / scale).astype(np.int32))
        assert values[module + ".bias_scale"] == scale and not values[module + ".bias_zero_point"].any()
        assert module + ".bias" not in values  # the float bias is gone
        entry = report.initializer(module + ".bias_int32")
        assert (entry.parameter, entry.role) == (module + ".bias", "int32 bias")
    assert "fused: 3 of 3 quantized Conv/Linear modules run as int8 kernels" in report.format()


def test_float_biases_on_request_name_every_linear_left_float(bert: tuple[nn.Module, Any], tmp_path: Path) -> None:
    model, runner = bert
    report = to_onnx(
        model, bert_batch(100), tmp_path / "bert.onnx", runner=runner, int32_bias=False, dynamic_axes=False, print_report=False
    )
    # encoder.0's output feeds the GELU's input quantizer: DQ -> Gemm -> Q fuses with a float bias too.
    assert report.float_layers == {"encoder.2": "float bias", "head": "float bias"}
    assert not report.fused and report.fused_kernels == {"QGemm": 1}
    text = report.format()
    assert "fused: 1 of 3 quantized Conv/Linear modules" in text and "float: " in text and "head (float bias)" in text
    # Those float Linears can read fp32 weights (through the Transpose of a 3-D input's MatMul too).
    fp32w = to_onnx(
        model,
        bert_batch(100),
        tmp_path / "fp32w.onnx",
        runner=runner,
        int32_bias=False,
        fp32_float_weights=True,
        dynamic_axes=False,
        print_report=False,
    )
    dtypes = [fp32w.initializer(m + ".weight").dtype for m in ("embeddings", "encoder.0", "encoder.2", "head")]
    assert dtypes == ["int8", "int8", "float32", "float32"]
    assert fp32w.outputs[0].passed and fp32w.float_layers == report.float_layers


def test_conv_without_output_quantizer_is_named_with_its_reason(cnn: tuple[nn.Module, Any], tmp_path: Path) -> None:
    model, runner = cnn
    report = to_onnx(model, cnn_batch(100), tmp_path / "cnn.onnx", runner=runner, print_report=False)
    # features.0's output goes ReLU -> features.3's input quantizer: QLinearConv. features.3's goes to a mean.
    assert {layer.module: layer.kernel for layer in report.layers} == {"features.0": "QLinearConv", "features.3": "", "classifier": "QGemm"}
    assert report.float_layers == {"features.3": "output not quantized"}
    assert not report.fused  # one int8 kernel is not "fused": every quantized Conv/Linear must be
    assert report.fused_kernels == {"QLinearConv": 1, "QGemm": 1}


def test_fp32_float_weights_are_the_dequantized_values_bit_for_bit(cnn: tuple[nn.Module, Any], tmp_path: Path) -> None:
    model, runner = cnn
    int8 = to_onnx(model, cnn_batch(100), tmp_path / "int8.onnx", runner=runner, print_report=False)
    fp32w = to_onnx(model, cnn_batch(100), tmp_path / "fp32w.onnx", runner=runner, fp32_float_weights=True, print_report=False)
    values = initializers(fp32w.path)
    # Only the layer that stays float changes: its weight is fp32, equal to what the int8 file dequantizes to.
    assert values["features.3.weight"].dtype == np.float32
    assert np.array_equal(values["features.3.weight"], export_graph.dequantized(onnx.load(str(int8.path)), "features.3.weight"))
    assert values["features.0.weight"].dtype == np.int8 and values["classifier.weight"].dtype == np.int8
    assert fp32w.weight_qdq == int8.weight_qdq - 1
    assert fp32w.fused_kernels == int8.fused_kernels and fp32w.float_layers == {"features.3": "output not quantized"}
    assert fp32w.outputs[0].passed and fp32w.file_size > int8.file_size


def test_embedding_gathers_int8_rows_then_dequantizes_bit_identically(bert: tuple[nn.Module, Any], tmp_path: Path) -> None:
    model, runner = bert
    ids = bert_batch(100)
    report = to_onnx(model, ids, tmp_path / "bert.onnx", runner=runner, print_report=False)
    proto = onnx.load(str(report.path))
    gather = next(node for node in proto.graph.node if node.op_type == "Gather")
    assert gather.input[0] == "embeddings.weight"  # the int8 table itself, not its DequantizeLinear
    [dq] = [node for node in proto.graph.node if gather.output[0] in node.input]
    assert dq.op_type == "DequantizeLinear"
    table = export_graph.dequantized(proto, "embeddings.weight")
    assert np.array_equal(run_to(report.path, dq.output[0], ids.numpy()), table[ids.numpy()])


def test_per_channel_weights_beyond_8192_channels_export(tmp_path: Path) -> None:
    # onnxscript folds constants of at most 8192 elements: the zero point's Cast used to stay a node
    # and the export raised RuntimeError after torch's exporter ran.
    torch.manual_seed(0)
    model = nn.Sequential(nn.Embedding(8200, 8), nn.Linear(8, 8200))

    def batch(step: int) -> torch.Tensor:
        return torch.randint(0, 8200, (2, 6), generator=torch.Generator().manual_seed(step))

    runner = train(model, CHANNEL_RECIPE, batch)
    ids = batch(100)
    report = to_onnx(model, ids, tmp_path / "wide.onnx", runner=runner, dynamic_axes=False, print_report=False)
    assert report.outputs[0].passed and report.quantizers and all(q.passed for q in report.quantizers)
    assert {layer.module: layer.kernel for layer in report.layers} == {"1": "QGemm"}
    proto = onnx.load(str(report.path))
    values = initializers(report.path)
    dqs = [node for node in proto.graph.node if node.op_type == "DequantizeLinear"]
    assert dqs and all(name in values for node in dqs for name in node.input[1:])  # constant scales and zero points
    assert values["1.weight_zero_point_int8"].shape == (8200,) and values["1.weight_zero_point_int8"].dtype == np.int8
    assert report.initializer("1.weight_zero_point_int8").role == "weight zero_point"
    # Per-row scales: the rows are gathered, then dequantized with their own scales, bit for bit.
    table = export_graph.dequantized(proto, "0.weight")
    embedded = next(node for node in proto.graph.node if node.op_type == "Mul" and node.name.endswith("embedding")).output[0]
    assert np.array_equal(run_to(report.path, embedded, ids.numpy()), table[ids.numpy()])


def test_check_feeds_torchs_integers_and_passes_at_every_quantizer(cnn: tuple[nn.Module, Any], tmp_path: Path) -> None:
    model, runner = cnn
    report = to_onnx(model, cnn_batch(100), tmp_path / "cnn.onnx", runner=runner, print_report=False)
    assert [q.name for q in report.quantizers] == ["features.0.input_scale", "features.3.input_scale", "classifier.input_scale"]
    assert all(q.passed and q.max_abs_diff <= 1 for q in report.quantizers) and report.unpaired_quantizers == 0
    [out] = report.outputs
    assert out.passed and out.within == 1.0 and out.end_to_end is not None


def corrupting(name: str, factor: float) -> Any:
    """An onnx_export._save that multiplies initializer ``name`` by ``factor`` before writing."""
    real_save = onnx_export._save

    def save(proto: Any, path: Path, *rest: Any) -> None:
        init = next(i for i in proto.graph.initializer if i.name == name)
        init.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(init) * np.float32(factor), init.name))
        real_save(proto, path, *rest)

    return save


def test_check_refuses_a_corrupted_weight_scale_at_the_next_quantizer(
    cnn: tuple[nn.Module, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model, runner = cnn
    monkeypatch.setattr(onnx_export, "_save", corrupting("features.3.weight_scale", 1.05))
    with pytest.raises(
        ExportError, match=r"QuantizeLinear with scale 'classifier.input_scale' differs from torch's integers: .*not a faithful"
    ):
        to_onnx(model, cnn_batch(100), tmp_path / "x.onnx", runner=runner, print_report=False)
    assert not (tmp_path / "x.onnx").exists() and (tmp_path / "x.rejected.onnx").exists()  # refused, kept aside


def test_check_refuses_a_corrupted_scale_after_the_last_quantizer(
    cnn: tuple[nn.Module, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model, runner = cnn
    # 3% on the classifier's weight scale: every output moves by about 3% of its value, a few output steps.
    monkeypatch.setattr(onnx_export, "_save", corrupting("classifier.weight_scale", 1.03))
    with pytest.raises(ExportError, match=r"onnxruntime's output 0 differs from torch's beyond the bound: .* not a faithful export"):
        to_onnx(model, cnn_batch(100), tmp_path / "x.onnx", runner=runner, print_report=False)


def test_check_refuses_a_corrupted_activation_scale_at_its_quantizer(
    cnn: tuple[nn.Module, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model, runner = cnn
    real_save = onnx_export._save

    def corrupt(proto: Any, path: Path, *rest: Any) -> None:
        # The DequantizeLinear after features.3's input quantizer reads a 5% larger scale: every later integer moves.
        dq = next(n for n in proto.graph.node if n.op_type == "DequantizeLinear" and n.input[1] == "features.3.input_scale")
        value = numpy_helper.to_array(next(i for i in proto.graph.initializer if i.name == "features.3.input_scale"))
        proto.graph.initializer.append(numpy_helper.from_array(value * np.float32(1.05), "corrupted_scale"))
        dq.input[1] = "corrupted_scale"
        real_save(proto, path, *rest)

    monkeypatch.setattr(onnx_export, "_save", corrupt)
    with pytest.raises(ExportError, match=r"QuantizeLinear with scale 'classifier.input_scale' differs from torch's integers"):
        to_onnx(model, cnn_batch(100), tmp_path / "x.onnx", runner=runner, print_report=False)


DEEP_RECIPE = """
modifiers:
  - !EpochRangeModifier
    start_epoch: 0.0
    end_epoch: 2.0
  - !QuantizationModifier
    start_epoch: 0.0
    freeze_bn_stats_epoch: 1.0
"""


class ResidualBlock(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x + self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x))))))


def test_deep_cnn_passes_the_check_though_ties_add_up_end_to_end(tmp_path: Path) -> None:
    # 13 convolutions with per-tensor activations: rounding ties at the quantizers add up, so that only
    # ~87% of onnxruntime's outputs are within one output step of torch's when it runs on its own (the
    # former 99% bound refused this correct export). Fed torch's integers, every output is within one step.
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), *[ResidualBlock(32) for _ in range(6)], nn.Flatten(), nn.Linear(32 * 64, 10)
    )

    def batch(step: int) -> torch.Tensor:
        return torch.randn(4, 3, 8, 8, generator=torch.Generator().manual_seed(step))

    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    runner = attach(recipekit.compile_recipe(DEEP_RECIPE, 4), model, optimizer)
    for step in range(8):
        optimizer.zero_grad()
        model(batch(step)).pow(2).mean().backward()
        optimizer.step()
    runner.finalize()
    x = torch.randn(16, 3, 8, 8, generator=torch.Generator().manual_seed(99))
    report = to_onnx(model, x, tmp_path / "deep.onnx", runner=runner, print_report=False)
    [out] = report.outputs
    assert out.passed and out.within == 1.0 and out.max_abs_diff < 0.01 * out.step
    assert out.end_to_end is not None and out.end_to_end < 0.95
    assert len(report.quantizers) == 14 and report.unpaired_quantizers == 0
    assert all(q.passed and q.tie_distance < 0.01 for q in report.quantizers)


OUTPUT_ACTIVATIONS_RECIPE = """
modifiers:
  - !EpochRangeModifier
    start_epoch: 0.0
    end_epoch: 2.0
  - !QuantizationModifier
    start_epoch: 0.0
    scheme:
      input_activations: {num_bits: 8, symmetric: false, strategy: tensor}
      weights: {num_bits: 8, symmetric: true, strategy: tensor}
      output_activations: {num_bits: 8, symmetric: false, strategy: tensor}
"""


def test_output_quantizers_are_paired_and_fused_too(tmp_path: Path) -> None:
    # Whatever quantizers training simulates, the check pairs each with its QuantizeLinear by value.
    # Each Linear's input quantizer reads the previous Linear's output quantizer's values: the pair
    # gives back every integer unchanged, so the file has one QuantizeLinear there (drop_requantize).
    torch.manual_seed(0)
    model = TinyBert()
    runner = train(model, OUTPUT_ACTIVATIONS_RECIPE, bert_batch)
    report = to_onnx(model, bert_batch(100), tmp_path / "out.onnx", runner=runner, dynamic_axes=False, print_report=False)
    assert [q.name for q in report.quantizers] == [
        "embeddings.output_scale",
        "norm.input_scale",
        "norm.output_scale",
        "encoder.0.output_scale",
        "encoder.1.output_scale",
        "encoder.2.output_scale",
        "out_norm.input_scale",
        "out_norm.output_scale",
        "head.input_scale",
        "head.output_scale",
    ]
    assert all(q.passed for q in report.quantizers) and report.unpaired_quantizers == 0
    assert report.fused and report.fused_kernels == {"QGemm": 3}
    [out] = report.outputs
    assert out.step_source == "output DequantizeLinear scale" and out.passed
