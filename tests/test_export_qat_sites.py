"""Issue 23 item 3 (QAT side): the export writes QuantizeLinear/DequantizeLinear exactly where the QAT
simulated a fake-quantizer. A ResNet-like model under the legacy modifier (conv outputs quantized
after the fused BatchNorm and ReLU, as SparseML did) exports every Conv as ``DQ -> Conv -> [Relu] -> Q``,
which onnxruntime fuses into QLinearConv; under the new-style default scheme (no output_activations)
no conv output is quantized, in training or in the file."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
from torch import nn  # noqa: E402

import recipekit  # noqa: E402
from recipekit.export import to_onnx  # noqa: E402
from recipekit.runtime import attach  # noqa: E402


class Block(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
        self.out = nn.Sequential(nn.Identity(), nn.ReLU())  # the ReLU after the Add: its own parent, never fused

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv2(self.relu1(self.bn1(self.conv1(x)))))
        result: torch.Tensor = self.out(out + self.down(x))
        return result


class ResNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, 1, 1, bias=False), nn.BatchNorm2d(8), nn.ReLU())
        self.layer = Block(8, 16, 2)
        self.fc = nn.Linear(16, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.fc(self.layer(self.stem(x)).mean(dim=(2, 3)))
        return out


HEAD = "modifiers:\n  - !EpochRangeModifier {start_epoch: 0.0, end_epoch: 2.0}\n  - !QuantizationModifier\n    start_epoch: 0.0\n"
RECIPES = {"legacy": HEAD + "    quantize_conv_activations: true\n    freeze_bn_stats_epoch: 1.0\n", "new": HEAD}


def trained(recipe: str) -> tuple[nn.Module, Any]:
    torch.manual_seed(0)
    model = ResNet()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        runner = attach(recipekit.compile_recipe(recipe, 4), model, optimizer)
        model.train()
        step = 0
        while not runner.done:
            optimizer.zero_grad()
            model(torch.randn(4, 3, 16, 16, generator=torch.Generator().manual_seed(step))).pow(2).mean().backward()
            optimizer.step()
            step += 1
        runner.finalize()
    return model, runner


def conv_sites(path: Path) -> list[tuple[str, str]]:
    """For each Conv: what feeds its input, and the op its output reaches after an optional Relu."""
    graph = onnx.load(str(path)).graph
    producer = {out: node for node in graph.node for out in node.output}
    consumers: dict[str, list[Any]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    sites = []
    for node in graph.node:
        if node.op_type != "Conv":
            continue
        [after] = consumers[node.output[0]]
        if after.op_type == "Relu":
            [after] = consumers[after.output[0]]
        sites.append((producer[node.input[0]].op_type, after.op_type))
    return sites


@pytest.mark.parametrize("flavour", list(RECIPES))
def test_conv_output_quantizers_are_exported_where_training_simulated_them(flavour: str, tmp_path: Path) -> None:
    model, runner = trained(RECIPES[flavour])
    outputs = {m.name: m.output is not None for m in runner.quantization.modules if isinstance(m.module, nn.Conv2d)}
    assert outputs == dict.fromkeys(["stem.0", "layer.conv1", "layer.conv2", "layer.down.0"], flavour == "legacy")
    report = to_onnx(model, torch.randn(2, 3, 16, 16), tmp_path / "model.onnx", runner=runner, print_report=False)
    assert all(out.passed for out in report.outputs)
    sites = conv_sites(report.path)
    assert len(sites) == 4 and all(source == "DequantizeLinear" for source, _ in sites)
    if flavour == "legacy":
        assert [after for _, after in sites] == ["QuantizeLinear"] * 4
        assert report.fused_kernels is not None and report.fused_kernels.get("QLinearConv") == 4
    else:
        # The stem's and conv1's outputs reach the next layer's input quantizer; conv2 and the
        # downsample conv feed the residual Add unquantized, as SparseML trained them.
        assert [after for _, after in sites] == ["QuantizeLinear", "QuantizeLinear", "Add", "Add"]
    simulated = sum(slot != "weight" for m in runner.quantization.modules for slot in m.quantizers())
    # layer.conv1's and layer.down.0's input quantizers observed the same tensor, so they are one
    # QuantizeLinear in the file (the same scale and zero point on the same input); every other one is its own.
    conv1, down = (runner.quantization.parameters()[name]["input"] for name in ("layer.conv1", "layer.down.0"))
    assert torch.equal(conv1["scale"], down["scale"]) and torch.equal(conv1["zero_point"], down["zero_point"])
    # Legacy: the stem's output quantizer feeds that input quantizer, and conv1's output quantizer
    # conv2's; each reads the other's values, gives back every integer unchanged, and is dropped
    # (fusion.drop_requantize): two fewer QuantizeLinears, the check still pairing every one left.
    dropped = 2 if flavour == "legacy" else 0
    assert report.activation_qdq == simulated - 1 - dropped
    assert len(report.quantizers) == report.activation_qdq and report.unpaired_quantizers == 0
