"""to_onnx on what a Hugging Face or Lightning user has in hand (issue 20): keyword inputs, ModelOutput outputs,
the bare model inside a LightningModule with the callback's runner, dynamic axes, and no file left by a failed check."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxscript")
ort = pytest.importorskip("onnxruntime")

import numpy as np  # noqa: E402

from recipekit.export import ExportError, to_onnx, torch_outputs  # noqa: E402
from recipekit.export import check as export_check  # noqa: E402

pytestmark = [
    pytest.mark.filterwarnings("ignore:.*isinstance\\(treespec, LeafSpec\\).*:FutureWarning"),
    pytest.mark.filterwarnings("ignore:.*does not have many workers.*"),
]

QAT = """\
version: 1.1.0
modifiers:
  - !EpochRangeModifier {start_epoch: 0.0, end_epoch: 2.0}
  - !GMPruningModifier {params: [PARAMS], init_sparsity: 0.2, final_sparsity: 0.5, start_epoch: 0.0, end_epoch: 1.0, update_frequency: 0.5}
  - !QuantizationModifier {start_epoch: 1.0}
"""


def dims(value: Any) -> list[Any]:
    return [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]


@pytest.fixture(scope="module")
def trained_bert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    transformers = pytest.importorskip("transformers")
    from recipekit.integrations.transformers import RecipeCallback
    from tests.integration_models import TokenData

    config = transformers.BertConfig(
        vocab_size=100, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32, max_position_embeddings=32
    )
    torch.manual_seed(0)
    model = transformers.BertForSequenceClassification(config)  # return_dict=True: a SequenceClassifierOutput
    # quantize_attention=True: SparseML left a BertForSequenceClassification's attention float (the callback
    # says so unless asked); quantized here, its matmuls export with a padding mask and dynamic axes too.
    callback = RecipeCallback(QAT.replace("PARAMS", '"re:bert.encoder.layer.*.intermediate.dense.weight"'), quantize_attention=True)
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path_factory.mktemp("hf")), per_device_train_batch_size=2, num_train_epochs=2, save_strategy="no",
        report_to="none", use_cpu=True, disable_tqdm=True, lr_scheduler_type="constant",
    )  # fmt: skip
    transformers.Trainer(model=model, args=args, train_dataset=TokenData(10), callbacks=[callback]).train()
    return model, callback.runner


def tokens(batch: int, length: int) -> dict[str, Any]:
    ids = torch.randint(0, 100, (batch, length), generator=torch.Generator().manual_seed(batch * 100 + length))
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids)}


def test_a_hugging_face_model_with_keyword_inputs_exports_named_outputs_and_dynamic_batch_and_sequence(
    trained_bert: tuple[Any, Any], tmp_path: Path
) -> None:
    model, runner = trained_bert
    path = tmp_path / "bert.onnx"
    report = to_onnx(model, tokens(4, 12), path, runner=runner, print_report=False)
    assert report.path == path and path.is_file() and report.checked and all(out.passed for out in report.outputs)
    proto = onnx.load(str(path))
    assert [(i.name, dims(i)) for i in proto.graph.input] == [
        ("input_ids", ["batch", "sequence"]),
        ("attention_mask", ["batch", "sequence"]),
    ]
    assert [(o.name, dims(o)) for o in proto.graph.output] == [("logits", ["batch", 2])]
    assert report.weight_qdq > 0 and report.fused_kernels
    # Another batch size and sequence length than the example's: onnxruntime runs it and agrees with torch.
    other = tokens(3, 7)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    [got] = session.run(None, {name: value.numpy() for name, value in other.items()})
    [want] = torch_outputs(model, runner, other)
    [verdict] = export_check.compare([want.numpy()], [got], [None], quantized=True)
    assert got.shape == (3, 2) and verdict.passed, verdict
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left beside it


def test_dynamic_axes_can_be_named_or_fixed(trained_bert: tuple[Any, Any], tmp_path: Path) -> None:
    model, runner = trained_bert
    named = {"input_ids": {0: "rows"}, "attention_mask": {0: "rows"}}  # the sequence length fixed at the example's 12
    report = to_onnx(model, tokens(4, 12), tmp_path / "rows.onnx", runner=runner, dynamic_axes=named, print_report=False)
    proto = onnx.load(str(report.path))
    assert [dims(i) for i in proto.graph.input] == [["rows", 12], ["rows", 12]]
    with pytest.raises(ExportError, match=r"dynamic_axes names input 'ids', but the inputs are 'input_ids', 'attention_mask'"):
        to_onnx(model, tokens(4, 12), tmp_path / "x.onnx", runner=runner, dynamic_axes={"ids": {0: "batch"}})


def test_inputs_that_are_neither_tensors_nor_dicts_of_them_are_refused_saying_what_is_accepted(
    trained_bert: tuple[Any, Any], tmp_path: Path
) -> None:
    model, runner = trained_bert
    accepted = r"example_inputs must be a tensor, a tuple or list of tensors \(the model's positional arguments\) or a dict of tensors"
    with pytest.raises(ExportError, match=accepted + r".*; got a str"):
        to_onnx(model, "a sentence", tmp_path / "x.onnx", runner=runner)
    with pytest.raises(ExportError, match=accepted + r".*; 'input_ids' is a list"):
        to_onnx(model, {"input_ids": [[1, 2, 3]]}, tmp_path / "x.onnx", runner=runner)
    assert not list(tmp_path.iterdir())


@dataclasses.dataclass
class Heads:
    scores: torch.Tensor
    extras: tuple[torch.Tensor, torch.Tensor]
    unused: torch.Tensor | None = None


class TwoHeads(torch.nn.Module):
    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind
        self.body = torch.nn.Linear(6, 4)

    def forward(self, x: torch.Tensor) -> Any:
        h = self.body(x)
        if self.kind == "dataclass":
            return Heads(h.relu(), (h.sum(-1), h.amax(-1)))
        if self.kind == "dict":
            return {"scores": h.relu(), "extras": (h.sum(-1), h.amax(-1))}
        return h.relu(), h.sum(-1)


@pytest.mark.parametrize(
    ("kind", "names"),
    [("dataclass", ["scores", "extras.0", "extras.1"]), ("dict", ["scores", "extras.0", "extras.1"]), ("tuple", ["output_0", "output_1"])],
)
def test_structured_outputs_are_flattened_with_their_names_and_checked_at_two_batch_sizes(
    kind: str, names: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    torch.manual_seed(0)
    model = TwoHeads(kind)
    batches: list[int] = []
    real_run = export_check.run_nodes

    def recording(path: Path, inputs: Any) -> Any:
        batches.append(inputs[0].shape[0])
        return real_run(path, inputs)

    monkeypatch.setattr(export_check, "run_nodes", recording)
    report = to_onnx(model, torch.randn(1, 6), tmp_path / "heads.onnx", print_report=False)  # a batch of 1 still exports a dynamic batch
    proto = onnx.load(str(report.path))
    assert [o.name for o in proto.graph.output] == names
    assert dims(proto.graph.input[0]) == ["batch", 6]
    assert batches == [1, 2]  # the example's batch size, and twice it
    assert len(report.outputs) == len(names) and all(out.passed for out in report.outputs)


def test_a_failed_check_leaves_no_file_that_looks_valid(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    torch.manual_seed(0)
    real_run = export_check.run_nodes

    def wrong(path: Path, inputs: Any) -> Any:
        outputs, nodes = real_run(path, inputs)
        return [out + 1.0 for out in outputs], nodes

    monkeypatch.setattr(export_check, "run_nodes", wrong)
    path = tmp_path / "model.onnx"
    rejected = tmp_path / "model.rejected.onnx"
    message = rf"output 0 differs from torch's beyond the bound.*Nothing was written to {path}; the rejected graph is kept in {rejected}"
    with pytest.raises(ExportError, match=message):
        to_onnx(TwoHeads("tuple"), torch.randn(4, 6), path, print_report=False)
    assert not path.exists() and rejected.is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.rejected.onnx"]
    # An export that succeeds afterwards replaces nothing but its own path.
    monkeypatch.setattr(export_check, "run_nodes", real_run)
    to_onnx(TwoHeads("tuple"), torch.randn(4, 6), path, print_report=False)
    assert path.is_file()


def test_the_bare_model_inside_a_lightning_module_exports_with_the_callbacks_runner(tmp_path: Path) -> None:
    pl = pytest.importorskip("lightning.pytorch")
    from recipekit.integrations.lightning import RecipeCallback
    from tests.test_integrations_lightning import Module, loader

    module = Module()
    callback = RecipeCallback(QAT.replace("PARAMS", '"features.0.weight", "features.3.weight"'))
    trainer = pl.Trainer(
        max_epochs=2, accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, callbacks=[callback],
    )  # fmt: skip
    trainer.fit(module, loader())
    assert callback.runner is not None and "model.features.0.weight" in callback.runner.masks()
    images = torch.randn(4, 3, 8, 8)
    report = to_onnx(module.model, images, tmp_path / "cnn.onnx", runner=callback.runner, print_report=False)
    assert report.quantized and report.folded == {"features.0": "features.1"}
    assert report.initializer("features.0.weight").parameter_zeros == int((module.model.features[0].weight == 0).sum()) > 0
    assert all(out.passed for out in report.outputs) and report.fused_kernels
    # The LightningModule itself, with the same runner, exports the same graph under its own names.
    whole = to_onnx(module, images, tmp_path / "module.onnx", runner=callback.runner, print_report=False)
    assert whole.initializer("model.features.0.weight").dtype == "int8"
    got = ort.InferenceSession(str(report.path), providers=["CPUExecutionProvider"]).run(None, {"x": images.numpy()})[0]
    np.testing.assert_array_equal(
        got, ort.InferenceSession(str(whole.path), providers=["CPUExecutionProvider"]).run(None, {"x": images.numpy()})[0]
    )
