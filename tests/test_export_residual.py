"""Issue 23, ResNet side: a network quantized end to end in training runs end to end in integers.

A ResNet written as SparseML's own ResNets were (the residual Add through a FloatFunctional's
``add_relu``), trained with a new-style scheme that quantizes outputs, exports so that onnxruntime
runs every convolution as QLinearConv, every residual Add as QLinearAdd and the stem's MaxPool on
uint8: the graph passes of export/fusion.py (integer MaxPool, identity requantizations dropped,
scalar per-tensor parameters) change no bit, which the export's check and the tests below show.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
import numpy as np  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402
from torch import nn  # noqa: E402
from torch.ao.nn.quantized import FloatFunctional  # noqa: E402

import recipekit  # noqa: E402
from recipekit.export import ExportError, fusion, onnx_export, to_onnx  # noqa: E402
from recipekit.runtime import attach  # noqa: E402


class Block(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
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


class ResNet(nn.Module):
    """SparseML's ResNet layout, small: stem Conv-BN-ReLU + MaxPool, three blocks, pool, classifier."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, 2, 1, bias=False)
        self.bn = nn.BatchNorm2d(8)
        self.act = nn.ReLU()
        self.pool = nn.MaxPool2d(3, 2, 1)
        self.blocks = nn.Sequential(Block(8, 8, 1), Block(8, 16, 2), Block(16, 16, 1))
        self.avg = nn.AdaptiveAvgPool2d(1)
        self.flat = nn.Flatten()
        self.fc = nn.Linear(16, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.blocks(self.pool(self.act(self.bn(self.conv(x)))))
        out: torch.Tensor = self.fc(self.flat(self.avg(x)))
        return out


RECIPE = """
modifiers:
  - !EpochRangeModifier {start_epoch: 0.0, end_epoch: 3.0}
  - !QuantizationModifier
    start_epoch: 0.0
    freeze_bn_stats_epoch: 2.0
    scheme:
      input_activations: {num_bits: 8, symmetric: false, strategy: tensor}
      output_activations: {num_bits: 8, symmetric: false, strategy: tensor}
      weights: {num_bits: 8, symmetric: true, strategy: channel}
"""


def batch(seed: int, n: int = 4) -> torch.Tensor:
    return torch.randn(n, 3, 32, 32, generator=torch.Generator().manual_seed(seed))


@pytest.fixture(scope="module")
def resnet() -> tuple[nn.Module, Any]:
    torch.manual_seed(0)
    model = ResNet()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    runner = attach(recipekit.compile_recipe(RECIPE, 2), model, optimizer)
    for step in range(6):
        optimizer.zero_grad()
        model(batch(step)).pow(2).mean().backward()
        optimizer.step()
    runner.finalize()
    return model, runner


def optimized_ops(path: Path) -> list[str]:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.log_severity_level = 3
    with tempfile.TemporaryDirectory() as scratch:
        options.optimized_model_filepath = str(Path(scratch) / "optimized.onnx")
        ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        return [node.op_type for node in onnx.load(options.optimized_model_filepath).graph.node]


def test_a_resnet_quantized_in_training_runs_in_integers_from_stem_to_classifier(resnet: tuple[nn.Module, Any], tmp_path: Path) -> None:
    model, runner = resnet
    adds = [m.name for m in runner.quantization.modules if m.name.endswith("add_relu")]
    assert adds == ["blocks.0.add_relu", "blocks.1.add_relu", "blocks.2.add_relu"]
    report = to_onnx(model, batch(100, 1), tmp_path / "r.onnx", runner=runner, dynamic_axes=False, print_report=False)
    assert report.fused and all(out.passed for out in report.outputs)
    assert report.unpaired_quantizers == 0 and all(q.passed for q in report.quantizers)
    ops = optimized_ops(report.path)
    assert ops.count("QLinearConv") == 8 and ops.count("QLinearAdd") == 3 and ops.count("QGemm") == 1
    # The stem's pool runs on uint8 between two QLinearConvs, not in float between layout conversions.
    assert "MaxPool" not in ops and ops.count("NhwcMaxPool") == 1
    # Between the kernels, only requantizations that training really computed are left: two quantizers
    # in a row whose scales differ enough to move some integers (a moving-average observer reading what
    # the previous one clamped); every pair that gives back each integer is gone.
    proto = onnx.load(str(report.path))
    g = fusion.Graph(proto)
    pairs = [
        (fusion._per_tensor_qparams(g, dq), fusion._per_tensor_qparams(g, q))
        for q in proto.graph.node
        if q.op_type == "QuantizeLinear" and (dq := g.activation_dq(q.input[0])) is not None
    ]
    assert pairs and not any(fusion.requantize_is_identity(a, b) for a, b in pairs if a is not None and b is not None)
    first, last = ops.index("QLinearConv"), len(ops) - 1 - ops[::-1].index("QLinearAdd")
    between = ops[first : last + 1]
    assert set(between) == {"QLinearConv", "QLinearAdd", "NhwcMaxPool", "DequantizeLinear", "QuantizeLinear"}
    assert between.count("QuantizeLinear") <= len(pairs)


def test_the_passes_change_no_bit_of_what_onnxruntime_computes(
    resnet: tuple[nn.Module, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model, runner = resnet
    x = batch(101, 2)
    with_passes = to_onnx(model, x, tmp_path / "with.onnx", runner=runner, dynamic_axes=False, print_report=False)
    for name in ("pool_integers", "drop_requantize", "scalar_qparams"):
        monkeypatch.setattr(fusion, name, lambda g: 0)
    without = to_onnx(model, x, tmp_path / "without.onnx", runner=runner, dynamic_axes=False, print_report=False, check=False)
    # What the passes removed: a float MaxPool, and the QuantizeLinears that gave back their input's integers.
    assert with_passes.activation_qdq < without.activation_qdq
    # Each node as ONNX defines it (onnxruntime's fusions off: a fused QLinearAdd rounds differently
    # from the float Add it replaces, in either file).
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    results = []
    for path in (with_passes.path, without.path):
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        results.append(session.run(None, {session.get_inputs()[0].name: x.numpy()})[0])
    assert np.array_equal(results[0], results[1])


def test_the_check_still_refuses_a_corrupted_scale_after_the_passes(
    resnet: tuple[nn.Module, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model, runner = resnet
    real_save = onnx_export._save

    def corrupt(proto: Any, path: Path, *rest: Any) -> None:
        # The residual Add's output quantizer of the middle block, 5% off: the next kernels read other integers.
        name = "blocks.1.add_relu.output_scale"
        init = next(i for i in proto.graph.initializer if i.name == name)
        init.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(init) * np.float32(1.05), name))
        real_save(proto, path, *rest)

    monkeypatch.setattr(onnx_export, "_save", corrupt)
    with pytest.raises(ExportError, match=r"not a faithful"):
        to_onnx(model, batch(100, 1), tmp_path / "x.onnx", runner=runner, dynamic_axes=False, print_report=False)


# -- each pass on a hand-written graph ---------------------------------------------------------
def _qdq_graph(nodes: list[Any], initializers: dict[str, np.ndarray[Any, Any]], shape: list[int], opset: int = 20) -> Any:
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("q", TensorProto.UINT8, shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(v, k) for k, v in initializers.items()],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def _run(model: Any, q: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    out: np.ndarray[Any, Any] = session.run(None, {"q": q})[0]
    return out


@pytest.mark.parametrize(
    ("kernel", "strides", "pads", "zero_point", "more"),
    [
        (3, 2, 1, 0, {}),
        (3, 2, 1, 200, {}),
        (2, 2, 0, 7, {}),
        (3, 1, 2, 255, {}),
        (3, 2, 1, 9, {"dilations": [2, 2]}),
        (3, 2, 0, 9, {"ceil_mode": 1}),
    ],
)
def test_pooling_the_integers_gives_the_bits_of_pooling_the_dequantized_values(
    kernel: int, strides: int, pads: int, zero_point: int, more: dict[str, Any]
) -> None:
    pool = helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[kernel] * 2, strides=[strides] * 2, pads=[pads] * 4, **more)
    dq = helper.make_node("DequantizeLinear", ["q", "s", "z"], ["x"])
    model = _qdq_graph([dq, pool], {"s": np.array([0.037], np.float32), "z": np.array([zero_point], np.uint8)}, [2, 3, 9, 9])
    q = np.random.default_rng(zero_point).integers(0, 256, (2, 3, 9, 9), dtype=np.uint8)
    before = _run(model, q)
    g = fusion.Graph(model)
    assert fusion.pool_integers(g) == 1
    assert [n.op_type for n in model.graph.node] == ["MaxPool", "DequantizeLinear"] and model.graph.node[0].input[0] == "q"
    assert np.array_equal(_run(model, q), before)


@pytest.mark.parametrize(
    ("s1", "z1", "s2", "z2", "identity"),
    [
        (0.02, 0, 0.02, 0, True),
        (0.02, 0, float(np.nextafter(np.float32(0.02), np.float32(1))), 0, True),  # one float32 step apart
        (0.02, 3, 0.02 * (1 + 1e-6), 3, True),
        (0.02, 0, 0.02 * 1.01, 0, False),  # 1%: the top integers move
        (0.02, 0, 0.02, 1, False),  # another zero point
    ],
)
def test_a_requantization_is_dropped_only_when_it_gives_back_every_integer(s1: float, z1: int, s2: float, z2: int, identity: bool) -> None:
    params = (np.array([s1], np.float32), np.array([z1], np.uint8)), (np.array([s2], np.float32), np.array([z2], np.uint8))
    assert fusion.requantize_is_identity(*params) is identity
    nodes = [
        helper.make_node("DequantizeLinear", ["q", "s1", "z1"], ["x"]),
        helper.make_node("QuantizeLinear", ["x", "s2", "z2"], ["r"]),
        helper.make_node("DequantizeLinear", ["r", "s2", "z2"], ["y"]),
    ]
    initializers = {"s1": params[0][0], "z1": params[0][1], "s2": params[1][0], "z2": params[1][1]}
    model = _qdq_graph(nodes, initializers, [256])
    every = np.arange(256, dtype=np.uint8)
    before = _run(model, every)
    assert fusion.drop_requantize(fusion.Graph(model)) == int(identity)
    assert len(model.graph.node) == (1 if identity else 3)  # dropped: the integers go straight to the last DequantizeLinear
    assert np.array_equal(_run(model, every), before)


def test_per_tensor_parameters_become_scalars_and_nothing_else_does() -> None:
    nodes = [
        helper.make_node("DequantizeLinear", ["q", "s", "z"], ["x"]),
        helper.make_node("Mul", ["x", "k"], ["y"]),
    ]
    model = _qdq_graph(nodes, {"s": np.array([0.5], np.float32), "z": np.array([3], np.uint8), "k": np.array([2.0], np.float32)}, [4])
    assert fusion.scalar_qparams(fusion.Graph(model)) == 2
    dims = {init.name: list(init.dims) for init in model.graph.initializer}
    assert dims == {"s": [], "z": [], "k": [1]}  # k is read by a Mul: left as it was
    assert np.array_equal(_run(model, np.array([3, 4, 5, 255], np.uint8)), np.array([0.0, 1.0, 2.0, 252.0], np.float32))


def test_before_opset_12_the_pool_stays_float() -> None:
    # MaxPool takes integer tensors from opset 12 on: an older file keeps DequantizeLinear -> MaxPool.
    pool = helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[2, 2])
    dq = helper.make_node("DequantizeLinear", ["q", "s", "z"], ["x"])
    model = _qdq_graph([dq, pool], {"s": np.array([0.5], np.float32), "z": np.array([0], np.uint8)}, [1, 1, 4, 4], opset=11)
    assert fusion.pool_integers(fusion.Graph(model)) == 0
    assert [n.op_type for n in model.graph.node] == ["DequantizeLinear", "MaxPool"]
