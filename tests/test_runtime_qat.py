"""QAT in the runtime: fake quantization on core ops, Conv+BN folding, schedule, sparsity, resume, refusals."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")

import recipekit  # noqa: E402
from recipekit.runtime import RuntimeRefusal, attach  # noqa: E402
from recipekit.runtime.qat import FakeQuantizer, QuantArgs, Quantization, QuantizedModule  # noqa: E402
from tests.runtime_models import resume_in_pieces  # noqa: E402

QAT_RECIPE = """
modifiers:
  - !EpochRangeModifier
    start_epoch: 0.0
    end_epoch: 6.0
  - !GMPruningModifier
    params: [features.0.weight, classifier.weight]
    init_sparsity: 0.05
    final_sparsity: 0.5
    start_epoch: 0.0
    end_epoch: 2.0
    update_frequency: 0.5
  - !QuantizationModifier
    start_epoch: 3.0
    disable_quantization_observer_epoch: 4.0
    freeze_bn_stats_epoch: 5.0
"""


class ConvBnNet(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.BatchNorm2d(8), torch.nn.ReLU())
        self.classifier = torch.nn.Linear(8, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).mean(dim=(2, 3)))


def train(model: torch.nn.Module, optimizer: torch.optim.Optimizer, steps: range) -> None:
    for step in steps:
        x = torch.randn(4, 3, 8, 8, generator=torch.Generator().manual_seed(step))
        optimizer.zero_grad()
        model(x).pow(2).mean().backward()
        optimizer.step()


def qat_plan(text: str = QAT_RECIPE, spe: int = 4) -> Any:
    return recipekit.compile_recipe(text, spe)


def torch_ao() -> Any:
    """torch's own (deprecated) FakeQuantize, only as the reference these tests compare against."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        quantization = pytest.importorskip("torch.ao.quantization")
        intrinsic = pytest.importorskip("torch.ao.nn.intrinsic.qat")
    return quantization, intrinsic


REFERENCE_CASES = [
    (QuantArgs(symmetric=False), "per_tensor_affine"),
    (QuantArgs(symmetric=True), "per_tensor_symmetric"),
    (QuantArgs(symmetric=True, per_channel=True), "per_channel_symmetric"),
    (QuantArgs(num_bits=4, symmetric=False, per_channel=True), "per_channel_affine"),
]


@pytest.mark.parametrize(("args", "qscheme"), REFERENCE_CASES, ids=[case[1] for case in REFERENCE_CASES])
def test_fake_quantizer_is_bitwise_torchs_fakequantize(args: QuantArgs, qscheme: str) -> None:
    quantization, _ = torch_ao()
    quant_min, quant_max = args.bounds
    observer = quantization.MovingAveragePerChannelMinMaxObserver if args.per_channel else quantization.MovingAverageMinMaxObserver
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = quantization.FakeQuantize(
            observer=observer,
            quant_min=quant_min,
            quant_max=quant_max,
            dtype=torch.qint8 if args.symmetric else torch.quint8,
            qscheme=getattr(torch, qscheme),
            **({"ch_axis": 0} if args.per_channel else {}),
        )
        ours = FakeQuantizer(args)
        generator = torch.Generator().manual_seed(0)
        for step in range(6):
            x = torch.randn(6, 5, generator=generator) * (step + 1) + step * 0.3
            assert torch.equal(ours(x), reference(x)), step
    scale, zero_point = ours.qparams()
    assert torch.equal(scale.reshape(-1), reference.scale.reshape(-1))
    assert torch.equal(zero_point.reshape(-1).long(), reference.zero_point.reshape(-1).long())


def test_fake_quantizer_scale_and_zero_point_by_hand() -> None:
    quantizer = FakeQuantizer(QuantArgs(symmetric=False))
    out = quantizer(torch.tensor([-1.0, 0.0, 3.0, 1.0 / 3.0]))
    scale, zero_point = quantizer.qparams()
    assert float(scale) == pytest.approx(4.0 / 255.0) and int(zero_point) == 64
    assert out[1].item() == 0.0  # zero is exactly representable: pruned weights stay zero
    assert out.tolist() == pytest.approx([-64 * 4 / 255, 0.0, 191 * 4 / 255, 21 * 4 / 255])


def test_folded_conv_bn_matches_torchs_qat_convbn2d() -> None:
    quantization, intrinsic = torch_ao()
    torch.manual_seed(0)
    conv, bn = torch.nn.Conv2d(3, 8, 3, bias=False), torch.nn.BatchNorm2d(8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        weight_fq = quantization.FakeQuantize.with_args(
            observer=quantization.MovingAverageMinMaxObserver,
            quant_min=-128,
            quant_max=127,
            dtype=torch.qint8,
            qscheme=torch.per_tensor_symmetric,
        )
        qconfig = quantization.QConfig(activation=torch.nn.Identity, weight=weight_fq)
        reference = intrinsic.ConvBn2d(3, 8, 3, bias=False, qconfig=qconfig)
        reference.weight.data.copy_(conv.weight.data)
        reference.bn.weight.data.copy_(bn.weight.data.uniform_(0.5, 1.5))
        reference.bn.bias.data.copy_(bn.bias.data.uniform_(-0.5, 0.5))
        ours = Quantization([QuantizedModule("conv", conv, FakeQuantizer(QuantArgs(symmetric=True)), None, None, bn)], lambda _: None, 0)
        ours.enable()
        for step in range(4):
            x = torch.randn(2, 3, 6, 6, generator=torch.Generator().manual_seed(step))
            expected, actual = reference(x), bn(conv(x))
            torch.testing.assert_close(actual, expected, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(bn.running_var, reference.bn.running_var)
        ours.freeze_bn()
        reference.freeze_bn_stats()
        frozen = bn.running_mean.clone()
        x = torch.randn(2, 3, 6, 6)
        torch.testing.assert_close(bn(conv(x)), reference(x), rtol=1e-5, atol=1e-6)
        assert torch.equal(bn.running_mean, frozen)


def test_schedule_sparsity_and_final_parameters() -> None:
    torch.manual_seed(0)
    model = ConvBnNet()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    plan = qat_plan()
    runner = attach(plan, model, optimizer)
    seen = []
    for step in range(plan.total_steps):
        train(model, optimizer, range(step, step + 1))
        seen.append((runner.qat_enabled, runner.qat_observing, runner.bn_frozen))
    # QAT at epoch 3 (step 12), observers off at 4 (step 16), BN frozen at 5 (step 20); 4 steps per epoch.
    assert seen[11] == (False, None, None) and seen[12] == (True, True, False)
    assert seen[15] == (True, True, False) and seen[16] == (True, False, False) and seen[20] == (True, False, True)
    runner.finalize()
    for weight in (model.features[0].weight, model.classifier.weight):
        assert int((weight == 0).sum()) == round(weight.numel() * 0.5)  # exactly as sparse through QAT
    params = runner.quantization_params()
    assert sorted(params) == ["classifier", "features.0"]
    assert sorted(params["features.0"]) == ["input", "weight"]
    assert int(params["classifier"]["weight"]["zero_point"]) == 0  # weights: 8-bit symmetric
    # The model still simulates quantization after finalize; detach gives the modules their forward back.
    assert "forward" in vars(model.features[0])
    runner.detach()
    assert "forward" not in vars(model.features[0]) and "forward" not in vars(model.features[1])


def test_masked_weight_is_quantized_not_the_raw_one() -> None:
    model = torch.nn.Sequential(torch.nn.Linear(8, 8))
    text = QAT_RECIPE.replace("features.0.weight, classifier.weight", "0.weight").replace("start_epoch: 3.0", "start_epoch: 0.0")
    plan = qat_plan(text.replace("    disable_quantization_observer_epoch: 4.0\n", ""))
    runner = attach(plan, model, torch.optim.SGD(model.parameters(), lr=0.0))
    mask = torch.ones(8, 8, dtype=torch.bool)
    mask[:, :4] = False
    runner._state.masks["0.weight"] = mask  # as if pruned, with the raw weights not yet zeroed
    x = torch.randn(3, 8)
    expected = torch.nn.functional.linear(x, model[0].weight * mask, model[0].bias)
    torch.testing.assert_close(model(x), expected, atol=0.1, rtol=0.0)  # 8-bit noise, but the pruned half contributes nothing
    manual = torch.nn.functional.linear(x, model[0].weight, model[0].bias)
    assert not torch.allclose(model(x), manual, atol=0.1)


def test_resume_through_qat_is_bitwise_identical(tmp_path: Path) -> None:
    plan = qat_plan()
    torch.manual_seed(0)
    reference = ConvBnNet()
    initial = {k: v.clone() for k, v in reference.state_dict().items()}
    optimizer = torch.optim.SGD(reference.parameters(), lr=0.05, momentum=0.9)
    attach(plan, reference, optimizer)
    train(reference, optimizer, range(plan.total_steps))

    # Before QAT, in it, after the observers stop and after BN freezes.
    model, runner = resume_in_pieces(plan, ConvBnNet, initial, (5, 13, 17, 21, plan.total_steps), train, tmp_path)
    for (name, expected), actual in zip(reference.state_dict().items(), model.state_dict().values(), strict=True):
        assert torch.equal(expected, actual), name
    assert (runner.qat_enabled, runner.qat_observing, runner.bn_frozen) == (True, False, True)


QAT_ONLY = "modifiers:\n  - !QuantizationModifier\n    start_epoch: 0.0\n"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("    submodules: [features, head]\n", r"<recipe>:2:5 \(QuantizationModifier\): submodules \['head'\] are not modules"),
        ("    ignore: [Dropout]\n", r"<recipe>:2:5 \(QuantizationModifier\): ignore entry 'Dropout' matches no module name"),
        ("    model_fuse_fn_name: fuse_model\n", "model_fuse_fn_name 'fuse_model' names a function of your model"),
        ("    num_calibration_steps: 10\n", "num_calibration_steps needs a calibration data loader"),
        ("    scheme: {weights: {num_bits: 8, kwargs: {foo: 1}}}\n", r"observer options \['foo'\] are not simulated"),
    ],
)
def test_qat_settings_the_runtime_cannot_honour_are_refused_before_anything_changes(extra: str, message: str) -> None:
    model = ConvBnNet()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    plan = recipekit.compile_recipe(QAT_ONLY + extra, 2)
    with pytest.raises(RuntimeRefusal, match=message):
        attach(plan, model, optimizer)
    assert not any("forward" in vars(m) for m in model.modules())
    assert not optimizer._optimizer_step_pre_hooks


def test_ignore_and_overrides_follow_sparsemls_prefix_and_class_matching() -> None:
    overrides = "    scheme_overrides:\n      Conv2d: {weights: {num_bits: 4, symmetric: true}, input_activations: null}\n"
    text = QAT_ONLY + "    ignore: [classifier]\n" + overrides
    model = ConvBnNet()
    runner = attach(recipekit.compile_recipe(text, 2), model, torch.optim.SGD(model.parameters(), lr=0.1))
    model(torch.randn(2, 3, 8, 8))
    params = runner.quantization_params()
    assert list(params) == ["features.0"] and list(params["features.0"]) == ["weight"]
    quantizer = runner._quantization.modules[0].weight  # type: ignore[union-attr]
    assert quantizer is not None and quantizer.args.bounds == (-8, 7)


def test_qat_emits_no_deprecation_warning() -> None:
    code = (
        "import torch, recipekit\n"
        "from recipekit.runtime import attach\n"
        "from tests.test_runtime_qat import ConvBnNet, QAT_RECIPE, train\n"
        "model = ConvBnNet()\n"
        "optimizer = torch.optim.SGD(model.parameters(), lr=0.05)\n"
        "plan = recipekit.compile_recipe(QAT_RECIPE, 4)\n"
        "runner = attach(plan, model, optimizer)\n"
        "train(model, optimizer, range(plan.total_steps))\n"
        "runner.finalize()\n"
        "print(runner.qat_enabled)\n"
    )
    root = Path(__file__).resolve().parents[1]
    result = subprocess.run([sys.executable, "-W", "error", "-c", code], capture_output=True, text=True, check=False, cwd=root)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"


def test_qat_state_saved_for_another_model_is_refused_before_anything_changes() -> None:
    plan = qat_plan(QAT_ONLY, spe=2)
    saved = ConvBnNet()
    state = attach(plan, saved, torch.optim.SGD(saved.parameters(), lr=0.1)).state_dict()
    state["qat"]["observers"] = {k.replace("features.0", "stem"): v for k, v in state["qat"]["observers"].items()}
    model = ConvBnNet()
    runner = attach(plan, model, torch.optim.SGD(model.parameters(), lr=0.1))
    with pytest.raises(RuntimeRefusal, match=r"no observer for \['features.0/input', 'features.0/weight'\]"):
        runner.load_state_dict(state)
    assert runner.step_index == 0


def test_tampered_qat_settings_of_the_wrong_type_are_refused_not_raised() -> None:
    plan = qat_plan(QAT_ONLY + "    submodules: [features]\n", spe=2)
    next(i for i in plan.instructions if i["op"] == "qat")["config"]["weight_bits"] = "eight"  # the compiler never writes this
    model = ConvBnNet()
    with pytest.raises(RuntimeRefusal, match="the quantization settings cannot be simulated: ValueError"):
        attach(plan, model, torch.optim.SGD(model.parameters(), lr=0.1))


def test_an_empty_batch_leaves_the_observed_range_alone() -> None:
    quantizer = FakeQuantizer(QuantArgs())
    quantizer(torch.tensor([-1.0, 3.0]))
    assert quantizer(torch.empty(0)).numel() == 0
    assert (float(quantizer.min_val), float(quantizer.max_val)) == (-1.0, 3.0)  # type: ignore[arg-type]


def test_a_conv_output_is_quantized_after_its_folded_batchnorm_and_relu_without_a_warning() -> None:
    # The legacy flavour quantizes conv outputs by default; SparseML quantized the fused
    # ConvBnReLU2d's output, after the BatchNorm and the ReLU (tests/test_qat_sites.py proves the bits).
    plan = qat_plan(QAT_ONLY + "    submodules: [features]\n", spe=2)
    model = ConvBnNet()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        runner = attach(plan, model, torch.optim.SGD(model.parameters(), lr=0.1))
    [conv] = runner.quantization.modules
    assert (conv.name, conv.tail) == ("features.0", model.features[2]) and conv.output is not None
    runner.quantization.enable()
    x = torch.randn(4, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    features = model.features(x)
    # A fake-quantized ReLU output: non-negative values on the output quantizer's grid.
    scale, zero_point = conv.output.qparams()
    assert (features >= 0).all() and int(zero_point) == 0
    assert torch.equal(torch.round(features / scale) * scale, features)
    runner.detach()
    assert all("forward" not in vars(module) for module in model.modules())
