"""Issue 23 item 6: BERT's quantized attention matmuls export as QDQ that onnxruntime fuses into QLinearMatMul.

A tiny BertModel given SparseML's quantizable matmuls (recipekit.integrations.attention) is trained
with QAT under both flavours and exported: each QATMatMul's two operands and its product are
Q/DQ pairs in the file, onnxruntime's optimised graph runs each of the four matmuls as a
QLinearMatMul reading that module's scales, the export check passes, and ``report.layers`` names
the kernel of every matmul beside the Linear layers'.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxscript")
pytest.importorskip("onnxruntime")
pytest.importorskip("transformers")

from torch import nn  # noqa: E402

import recipekit  # noqa: E402
from recipekit.export import check, to_onnx  # noqa: E402
from recipekit.integrations.attention import quantize_attention  # noqa: E402
from recipekit.runtime import attach  # noqa: E402
from scripts.sparseml_fixtures.attention import models  # noqa: E402

MATMULS = [f"encoder.layer.{i}.attention.self.{m}" for i in (0, 1) for m in ("attention_scores_matmul", "context_layer_matmul")]
RECIPES = {
    "new-style": "    ignore: [Embedding]\n",
    "legacy": "    quantize_linear_activations: false\n",
}


def trained(flavour: str, modify: bool = True) -> tuple[nn.Module, Any]:
    torch.manual_seed(0)
    model = models()
    if modify:
        quantize_attention(model, None)
    recipe = (
        "modifiers:\n  - !EpochRangeModifier\n    start_epoch: 0.0\n    end_epoch: 1.0\n"
        f"  - !QuantizationModifier\n    start_epoch: 0.0\n{RECIPES[flavour]}"
    )
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    runner = attach(recipekit.compile_recipe(recipe, 3), model, optimizer)
    generator = torch.Generator().manual_seed(1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # transformers' "pass an attention_mask" advice
        for _ in range(3):
            model(input_ids=torch.randint(0, 40, (2, 6), generator=generator)).last_hidden_state.square().mean().backward()
            optimizer.step()
            optimizer.zero_grad()
    runner.finalize()
    return model.eval(), runner


def export(model: nn.Module, runner: Any, path: Path) -> Any:
    ids = torch.randint(0, 40, (2, 6), generator=torch.Generator().manual_seed(2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return to_onnx(model, {"input_ids": ids}, path, runner=runner, print_report=False)


@pytest.mark.parametrize("flavour", list(RECIPES))
def test_the_attention_matmuls_run_as_qlinearmatmul(flavour: str, tmp_path: Path) -> None:
    model, runner = trained(flavour)
    report = export(model, runner, tmp_path / "bert.onnx")
    matmuls = [(layer.module, layer.kind, layer.kernel) for layer in report.layers if layer.kind == "MatMul"]
    assert matmuls == [(name, "MatMul", "QLinearMatMul") for name in MATMULS]
    assert report.fused and report.float_layers == {}
    assert all(out.passed for out in report.outputs) and all(q.passed for q in report.quantizers)
    assert "fused: 4 of 4 quantized MatMul modules run as int8 kernels" in report.format()
    # In the file: a QuantizeLinear on each operand and on the product, with the module's own scales.
    scales = [node.input[1] for node in onnx.load(str(report.path)).graph.node if node.op_type == "QuantizeLinear"]
    for name in MATMULS:
        assert [s for s in scales if s.startswith(name + ".")] == [f"{name}.{slot}_scale" for slot in ("input", "right", "output")]
    # In onnxruntime's optimised graph: one QLinearMatMul per matmul, reading its left, right and output scales.
    ids = torch.randint(0, 40, (2, 6)).numpy()
    _, nodes = check.run_nodes(report.path, [ids])
    fused = [inputs for op, inputs in nodes if op == "QLinearMatMul"]
    assert sorted(inputs[1] for inputs in fused) == sorted(f"{name}.input_scale" for name in MATMULS)
    assert sorted(inputs[4] for inputs in fused) == sorted(f"{name}.right_scale" for name in MATMULS)
    assert sorted(inputs[6] for inputs in fused) == sorted(f"{name}.output_scale" for name in MATMULS)


def test_without_the_modification_the_attention_stays_float(tmp_path: Path) -> None:
    model, runner = trained("new-style", modify=False)
    report = export(model, runner, tmp_path / "bert.onnx")
    assert [layer for layer in report.layers if layer.kind == "MatMul"] == []
    assert report.fused_kernels is not None and "QLinearMatMul" not in report.fused_kernels
