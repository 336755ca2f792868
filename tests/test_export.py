"""ONNX export of pruned and quantization-aware-trained models (recipekit.export), checked with onnxruntime."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxscript")
ort = pytest.importorskip("onnxruntime")

import numpy as np  # noqa: E402
from torch import nn  # noqa: E402

import recipekit  # noqa: E402
from recipekit.export import ExportError, to_onnx, torch_outputs  # noqa: E402
from recipekit.export import graph as export_graph  # noqa: E402
from recipekit.runtime import attach  # noqa: E402
from recipekit.runtime.qat import bn_scale_factor  # noqa: E402

CNN_RECIPE = """
modifiers:
  - !EpochRangeModifier
    start_epoch: 0.0
    end_epoch: 4.0
  - !GMPruningModifier
    params: [features.0.weight, features.3.weight, classifier.weight]
    init_sparsity: 0.05
    final_sparsity: 0.6
    start_epoch: 0.0
    end_epoch: 2.0
    update_frequency: 0.5
  - !QuantizationModifier
    start_epoch: 2.0
    freeze_bn_stats_epoch: 3.0
"""

BERT_RECIPE = """
modifiers:
  - !EpochRangeModifier
    start_epoch: 0.0
    end_epoch: 3.0
  - !GMPruningModifier
    params: ["re:encoder.*weight", head.weight]
    init_sparsity: 0.05
    final_sparsity: 0.5
    start_epoch: 0.0
    end_epoch: 1.0
    update_frequency: 0.5
  - !QuantizationModifier
    start_epoch: 1.0
"""

PRUNE_ONLY_RECIPE = """
modifiers:
  - !EpochRangeModifier
    start_epoch: 0.0
    end_epoch: 2.0
  - !GMPruningModifier
    params: __ALL_PRUNABLE__
    init_sparsity: 0.05
    final_sparsity: 0.7
    start_epoch: 0.0
    end_epoch: 1.0
    update_frequency: 0.5
"""

STEPS_PER_EPOCH = 4


class Cnn(nn.Module):
    """Conv+BN+ReLU twice (both folded by the runtime), then a Linear classifier."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.Conv2d(64, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU()
        )
        self.classifier = nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.classifier(self.features(x).mean(dim=(2, 3)))
        return out


class TinyBert(nn.Module):
    """Embedding, LayerNorm, a feed-forward block of Linears, and a classification head."""

    def __init__(self) -> None:
        super().__init__()
        self.embeddings = nn.Embedding(100, 32)
        self.norm = nn.LayerNorm(32)
        self.encoder = nn.Sequential(nn.Linear(32, 64), nn.GELU(), nn.Linear(64, 32))
        self.out_norm = nn.LayerNorm(32)
        self.head = nn.Linear(32, 4)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        hidden = self.norm(self.embeddings(ids))
        hidden = self.out_norm(hidden + self.encoder(hidden))
        out: torch.Tensor = self.head(hidden.mean(dim=1))
        return out


def cnn_batch(step: int) -> torch.Tensor:
    return torch.randn(8, 3, 12, 12, generator=torch.Generator().manual_seed(step))


def bert_batch(step: int) -> torch.Tensor:
    return torch.randint(0, 100, (8, 16), generator=torch.Generator().manual_seed(step))


def train(model: nn.Module, recipe: str, batch: Any) -> Any:
    torch.manual_seed(0)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    plan = recipekit.compile_recipe(recipe, STEPS_PER_EPOCH)
    runner = attach(plan, model, optimizer)
    for step in range(plan.total_steps):
        optimizer.zero_grad()
        model(batch(step)).pow(2).mean().backward()
        optimizer.step()
    runner.finalize()
    return runner


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


@pytest.fixture(scope="module")
def cnn_exports(cnn: tuple[nn.Module, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    model, runner = cnn
    before = {k: v.clone() for k, v in model.state_dict().items()}
    training = model.training
    folder = tmp_path_factory.mktemp("cnn")
    int8 = to_onnx(model, cnn_batch(100), folder / "int8.onnx", runner=runner, print_report=False)
    fp32 = to_onnx(model, cnn_batch(100), folder / "fp32.onnx", runner=runner, int8_weights=False, print_report=False)
    return {"int8": int8, "fp32": fp32, "before": before, "training": training}


def ops(path: Path) -> list[str]:
    return [node.op_type for node in onnx.load(str(path)).graph.node]


def torch_quantized_weight(runner: Any, name: str) -> torch.Tensor:
    """The weight the trained model computes with: masked, BN-scaled when folded, fake-quantized (observers off)."""
    quantized = next(m for m in runner.quantization.modules if m.name == name)
    weight = quantized.module.weight.detach() * runner.masks()[name + ".weight"]
    if quantized.bn is not None:
        bn = quantized.bn
        weight = weight * bn_scale_factor(bn).detach().reshape(-1, 1, 1, 1)
    observing = quantized.weight.observing
    quantized.weight.observing = False
    try:
        result: torch.Tensor = quantized.weight(weight)
    finally:
        quantized.weight.observing = observing
    return result


def test_cnn_graph_is_qdq_with_batchnorm_folded(cnn_exports: dict[str, Any]) -> None:
    report = cnn_exports["int8"]
    # One input Q/DQ per quantized module (the default scheme quantizes inputs and weights, not outputs),
    # and one DequantizeLinear per int8 weight, whose QuantizeLinear was folded into the initializer.
    assert (report.activation_qdq, report.weight_qdq) == (3, 3)
    names = ops(report.path)
    # Two more DequantizeLinear: the int32 biases of features.0 (its output is quantized) and of the classifier.
    assert names.count("QuantizeLinear") == 3 and names.count("DequantizeLinear") == 8
    assert "BatchNormalization" not in names
    assert names.count("Conv") == 2 and "Gemm" in names
    assert report.folded == {"features.0": "features.1", "features.3": "features.4"}
    assert report.opset == 20 and report.exporter == "dynamo"
    fp32_names = ops(cnn_exports["fp32"].path)
    assert fp32_names.count("QuantizeLinear") == 6 and "BatchNormalization" not in fp32_names


def test_cnn_int8_weights_are_torchs_integers_and_keep_every_pruned_zero(cnn: tuple[nn.Module, Any], cnn_exports: dict[str, Any]) -> None:
    model, runner = cnn
    proto = onnx.load(str(cnn_exports["int8"].path))
    for module in ("features.0", "features.3", "classifier"):
        name = module + ".weight"
        entry = cnn_exports["int8"].initializer(name)
        assert entry.name == name and entry.dtype == "int8"
        expected = torch_quantized_weight(runner, module)
        in_file = export_graph.dequantized(proto, name)
        assert np.array_equal(in_file, expected.numpy())  # bit for bit
        pruned = ~runner.masks()[name]
        assert int(pruned.sum()) > 0 and (in_file[pruned.numpy()] == 0).all()
        torch_zeros = int((model.get_submodule(module).weight == 0).sum())
        assert entry.parameter_zeros == torch_zeros == int(pruned.sum())
        # The file's zeros are torch's: the pruned ones, plus any weight that quantizes to zero in torch too.
        assert entry.zeros == int((expected == 0).sum()) >= torch_zeros
        fp32_entry = cnn_exports["fp32"].initializer(name)
        assert fp32_entry.dtype == "float32" and fp32_entry.zeros == entry.zeros


def test_cnn_onnxruntime_within_one_output_step_and_fused(cnn_exports: dict[str, Any]) -> None:
    for report in (cnn_exports["int8"], cnn_exports["fp32"]):
        assert report.checked
        [out] = report.outputs
        assert out.passed and out.within >= 0.99 and out.step > 0
        assert out.step_source == "8-bit step of the output range"
        assert report.fused_kernels.get("QLinearConv", 0) >= 1


def test_cnn_int8_file_is_at_least_3x_smaller(cnn_exports: dict[str, Any]) -> None:
    assert cnn_exports["fp32"].file_size >= 3 * cnn_exports["int8"].file_size


def test_export_leaves_the_model_as_it_was(cnn: tuple[nn.Module, Any], cnn_exports: dict[str, Any]) -> None:
    model, runner = cnn
    after = model.state_dict()
    assert after.keys() == cnn_exports["before"].keys()
    assert all(torch.equal(after[k], v) for k, v in cnn_exports["before"].items())
    assert model.training == cnn_exports["training"]
    assert isinstance(model.features[1], nn.BatchNorm2d)
    assert "forward" in model.features[0].__dict__  # still simulating QAT
    assert runner.qat_enabled


def test_initializers_are_named_after_parameters_and_mapped(cnn_exports: dict[str, Any]) -> None:
    proto = onnx.load(str(cnn_exports["int8"].path))
    mapping = json.loads(next(p.value for p in proto.metadata_props if p.key == "recipekit.name_map"))
    assert mapping["features.0.weight"] == {"parameter": "features.0.weight", "folded_bn": "features.1"}
    assert mapping["classifier.weight"] == {"parameter": "classifier.weight"}
    assert mapping["features.3.input_scale"] == {"parameter": "features.3", "role": "input scale"}
    text = cnn_exports["int8"].format()
    assert "features.0.weight" in text and "QLinearConv" in text and "int8 QDQ" in text


def test_bert_like_exports_with_int8_weights(bert: tuple[nn.Module, Any], tmp_path: Path) -> None:
    model, runner = bert
    ids = bert_batch(100)
    report = to_onnx(model, ids, tmp_path / "bert.onnx", runner=runner, print_report=False)
    names = ops(report.path)
    # Four modules with weights: the Embedding (weight only: its inputs are indices) and three Linears;
    # the new-style modifier also fake-quantized the inputs of norm, GELU and out_norm, as SparseML did.
    assert (report.activation_qdq, report.weight_qdq) == (6, 4)
    assert names.count("QuantizeLinear") == 6 and "Gather" in names and "LayerNormalization" in names
    proto = onnx.load(str(report.path))
    for module in ("embeddings", "encoder.0", "encoder.2", "head"):
        entry = report.initializer(module + ".weight")
        assert entry.dtype == "int8"
        assert np.array_equal(export_graph.dequantized(proto, module + ".weight"), torch_quantized_weight_plain(runner, module).numpy())
    for name, mask in runner.masks().items():
        entry = report.initializer(name)
        assert entry.parameter_zeros == int((~mask).sum()) > 0
        assert (export_graph.dequantized(proto, name)[(~mask).numpy()] == 0).all()
    [out] = report.outputs
    assert out.passed and out.within >= 0.99
    assert report.fused_kernels is not None


def torch_quantized_weight_plain(runner: Any, name: str) -> torch.Tensor:
    quantized = next(m for m in runner.quantization.modules if m.name == name)
    mask = runner.masks().get(name + ".weight")
    weight = quantized.module.weight.detach() * (1 if mask is None else mask)
    quantized.weight.observing = False  # finalize turned every observer off already
    result: torch.Tensor = quantized.weight(weight)
    return result


def test_pruned_only_model_exports_fp32_with_its_zeros(tmp_path: Path) -> None:
    torch.manual_seed(1)
    model = Cnn()
    runner = train(model, PRUNE_ONLY_RECIPE, cnn_batch)
    x = cnn_batch(100)
    report = to_onnx(model, x, tmp_path / "pruned.onnx", runner=runner, print_report=False)
    names = ops(report.path)
    assert "QuantizeLinear" not in names and "DequantizeLinear" not in names
    assert (report.activation_qdq, report.weight_qdq, report.quantized) == (0, 0, False)
    [out] = report.outputs
    assert out.step_source == "fp32" and out.max_abs_diff <= 1e-5 and out.passed
    session = ort.InferenceSession(str(report.path), providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: x.numpy()})[0]
    np.testing.assert_allclose(got, torch_outputs(model, runner, (x,))[0].numpy(), rtol=1e-5, atol=1e-5)
    for name, mask in runner.masks().items():
        entry = report.initializer(name)
        assert entry.dtype == "float32"
        assert entry.zeros == entry.parameter_zeros == int((~mask).sum()) > 0


UNEXPORTABLE = """
modifiers:
  - !QuantizationModifier
    start_epoch: 0.0
    scheme_overrides:
      classifier:
        weights:
          num_bits: 4
          symmetric: true
"""


def test_unexportable_scheme_is_an_export_error_naming_the_module(tmp_path: Path) -> None:
    model = Cnn()
    runner = train(model, UNEXPORTABLE + "  - !EpochRangeModifier\n    start_epoch: 0.0\n    end_epoch: 1.0\n", cnn_batch)
    with pytest.raises(ExportError, match=r"module 'classifier' \(weight\): 4-bit symmetric quantization uses the integer range \[-8, 7\]"):
        to_onnx(model, cnn_batch(100), tmp_path / "x.onnx", runner=runner)
    assert not (tmp_path / "x.onnx").exists()


def test_quantizing_model_without_runner_is_refused(cnn: tuple[nn.Module, Any], tmp_path: Path) -> None:
    model, _ = cnn
    with pytest.raises(ExportError, match=r"module 'features.0' simulates quantization but no runner was given"):
        to_onnx(model, cnn_batch(100), tmp_path / "x.onnx")


def test_check_refuses_an_export_beyond_the_bound(cnn: tuple[nn.Module, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from recipekit.export import check

    model, runner = cnn
    real_run = check.run_forced

    def off_by_two_steps(proto: Any, inputs: Any, forced: Any) -> Any:
        outputs, integers = real_run(proto, inputs, forced)
        expected = torch_outputs(model, runner, (cnn_batch(100),))[0].numpy()
        step = (expected.max() - expected.min()) / 255
        return [outputs[0] + 2.5 * step], integers

    monkeypatch.setattr(check, "run_forced", off_by_two_steps)
    with pytest.raises(ExportError, match=r"output 0 differs from torch's beyond the bound: 0.00% of elements within one output"):
        to_onnx(model, cnn_batch(100), tmp_path / "x.onnx", runner=runner, print_report=False)


def test_legacy_exporter_fallback_writes_the_same_qdq_graph(cnn: tuple[nn.Module, Any], tmp_path: Path) -> None:
    model, runner = cnn
    report = to_onnx(model, cnn_batch(100), tmp_path / "legacy.onnx", runner=runner, exporter="legacy", print_report=False)
    assert report.exporter == "legacy" and (report.activation_qdq, report.weight_qdq) == (3, 3)
    assert "BatchNormalization" not in ops(report.path)
    assert report.initializer("features.3.weight").dtype == "int8"
    assert report.outputs[0].passed and report.fused_kernels.get("QLinearConv", 0) >= 1
