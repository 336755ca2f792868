"""Issue 23 item 6: BERT's attention matmuls under QAT, against SparseML 1.8.0's own runs.

The fixtures under tests/fixtures/sparseml/attention/ were written by SparseML itself
(``scripts/make_sparseml_fixtures.py attention``, transformers 4.40.2): a tiny BertModel modified by
SparseML's ``modify_model`` (``QATMatMul`` children ``attention_scores_matmul`` and
``context_layer_matmul``) and trained under the legacy and the new-style QuantizationModifier.
Here the same model under transformers 5 is modified by ``recipekit.integrations.attention`` and
replayed: outputs at every step, every fake-quantizer (the matmuls' two inputs and output among
them) at every step, and the final weights.
"""

from __future__ import annotations

import pickle
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

import recipekit

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
from torch import nn  # noqa: E402

from recipekit.integrations.attention import AttentionError, quantize_attention  # noqa: E402
from recipekit.runtime import RuntimeRefusal, attach  # noqa: E402
from recipekit.runtime.matmul import QATMatMul  # noqa: E402
from scripts.sparseml_fixtures.attention import config, models  # noqa: E402  (the fixture's own model)
from tests import fixture_compare  # noqa: E402
from tests.sparseml_qat import check_quantizers  # noqa: E402

FIX = fixture_compare.topic("attention")
BERT = FIX.load("bert.pt")
MATMULS = [f"encoder.layer.{i}.attention.self.{m}" for i in (0, 1) for m in ("attention_scores_matmul", "context_layer_matmul")]


@pytest.fixture(autouse=True)
def deterministic() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def modified_bert() -> nn.Module:
    model = models()
    model.load_state_dict(BERT["initial"])
    modification, note = quantize_attention(model, None)
    assert modification is not None and note is None  # BertModel: modified, as SparseML's registry did
    assert modification.names == MATMULS
    return model


def replay(run: dict[str, Any]) -> tuple[nn.Module, Any]:
    model = modified_bert()
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=BERT["lr"], momentum=BERT["momentum"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # transformers' "pass an attention_mask" advice
        runner = attach(recipekit.compile_recipe(run["recipe"], BERT["steps_per_epoch"]), model, optimizer)
        for k, ids in enumerate(BERT["inputs"]):
            optimizer.zero_grad(set_to_none=True)
            out = model(input_ids=ids).last_hidden_state
            FIX.floats(out.detach(), run["outputs"][k], f"outputs at step {k}")
            if run["quantizers_per_step"][k]:
                check_quantizers(FIX, runner, run["quantizers_per_step"][k], f"step {k}")
            out.square().mean().backward()
            optimizer.step()
        check_quantizers(FIX, runner, run["quantizers"], "end")
        runner.finalize()
    for name, value in model.named_parameters():
        FIX.floats(value.detach(), run["final"][name], name)
    return model, runner


@pytest.mark.parametrize("name", list(BERT["runs"]))
def test_bert_attention_qat_replays_sparseml(name: str) -> None:
    run = BERT["runs"][name]
    _, runner = replay(run)
    matmul_slots = sorted(f"{m.name}/{s}" for m in runner.quantization.modules if m.right is not None for s in m.quantizers())
    if name == "new-style ignore QATMatMul":
        assert matmul_slots == []  # ignore: [QATMatMul] resolves to the four matmuls, as in SparseML
    else:
        # Even exclude_module_types: [QATMatMul] leaves them quantized under the legacy modifier.
        assert matmul_slots == sorted(f"{m}/{s}" for m in MATMULS for s in ("input", "right", "output"))


def test_the_stub_symmetries_follow_sparsemls_qatwrapper() -> None:
    def symmetric(name: str) -> dict[str, bool]:
        model = modified_bert()
        runner = attach(recipekit.compile_recipe(BERT["runs"][name]["recipe"], 2), model, torch.optim.SGD(model.parameters(), lr=0.1))
        site = next(m for m in runner.quantization.modules if m.name == MATMULS[3])
        result = {slot: q.args.symmetric for slot, q in site.quantizers().items()}
        runner.detach()
        return result

    # Left asymmetric, right symmetric, output asymmetric (legacy: torch quint8; new-style: int8 default args).
    assert symmetric("legacy") == symmetric("new-style default scheme") == {"input": False, "right": True, "output": False}
    # With output_activations, SparseML's _load_qconfigs set the symmetry on input_activations instead:
    # every stub quantizes as output_activations says.
    assert symmetric("new-style output_activations") == {"input": False, "right": False, "output": False}
    assert symmetric("new-style override by name") == {"input": True, "right": True, "output": True}


def test_the_modification_is_reversible_and_keeps_the_state_dict() -> None:
    model = models()
    model.load_state_dict(BERT["initial"])
    model.eval()
    ids = BERT["inputs"][0]
    before = model(input_ids=ids).last_hidden_state.detach()
    keys = list(model.state_dict())
    modification, _ = quantize_attention(model, None)
    assert modification is not None
    assert list(model.state_dict()) == keys  # QATMatMul has no parameters
    assert [n for n, m in model.named_modules() if isinstance(m, QATMatMul)] == MATMULS
    # SparseML's arithmetic (scores / sqrt(head size)) instead of transformers 5's (* scaling): equal within rounding.
    torch.testing.assert_close(model(input_ids=ids).last_hidden_state.detach(), before, rtol=0, atol=1e-6)
    pickle.loads(pickle.dumps(model))  # the instance forward is a module-level class
    modification.remove()
    assert [n for n, m in model.named_modules() if isinstance(m, QATMatMul)] == []
    assert torch.equal(model(input_ids=ids).last_hidden_state, before)
    assert model.config.to_dict() == models().config.to_dict()  # the config was never written


REGISTRY = FIX.json("registry.json")


@pytest.mark.parametrize("kind", ["BertModel", "BertForQuestionAnswering", "BertForSequenceClassification", "BertForMaskedLM"])
def test_only_the_classes_sparsemls_registry_named_are_modified(kind: str) -> None:
    model = getattr(transformers, kind)(config())
    modification, note = quantize_attention(model, None)
    names = [] if modification is None else modification.names
    FIX.exact(names, [n.removeprefix("bert.") if kind == "BertModel" else n for n in REGISTRY[kind]], kind)
    if not REGISTRY[kind]:
        assert note is not None and f"the attention of {kind} trains in float, as under SparseML 1.8" in note
        assert "quantize_attention=True" in note
        opted, said = quantize_attention(model, True)
        assert opted is not None and len(opted.names) == 4 and said is None  # asked for: nothing to say
    else:
        assert note is None


def test_distilbert_is_refused_where_sparseml_crashed() -> None:
    assert REGISTRY["DistilBertModel forward"].startswith("TypeError: QATMatMul.__init__()")
    distil = transformers.DistilBertConfig(vocab_size=40, dim=16, n_layers=1, n_heads=2, hidden_dim=32, max_position_embeddings=16)
    model = transformers.DistilBertModel(distil)
    with pytest.raises(AttentionError, match=r"assigned the class QATMatMul instead of an instance.*quantize_attention=False"):
        quantize_attention(model, None)
    modification, note = quantize_attention(model, False)
    assert modification is None and note is not None and note.startswith("quantize_attention=False: the attention of DistilBertModel")


def test_ignore_qatmatmul_names_no_module_of_an_unmodified_model() -> None:
    recipe = BERT["runs"]["new-style ignore QATMatMul"]["recipe"]
    model = models()
    with pytest.raises(RuntimeRefusal, match="'QATMatMul'"):
        attach(recipekit.compile_recipe(recipe, 2), model, torch.optim.SGD(model.parameters(), lr=0.1))


# -- the Hugging Face callback -------------------------------------------------------------------
QAT_RECIPE = """\
modifiers:
  - !EpochRangeModifier
    start_epoch: 0.0
    end_epoch: 2.0
  - !QuantizationModifier
    start_epoch: 1.0
    ignore: [Embedding]
"""


class QuestionData(torch.utils.data.Dataset):  # type: ignore[type-arg]
    def __init__(self) -> None:
        generator = torch.Generator().manual_seed(0)
        self.ids = torch.randint(0, 40, (4, 6), generator=generator)

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {"input_ids": self.ids[index], "start_positions": torch.tensor(1), "end_positions": torch.tensor(3)}


def train(tmp_path: Any, model: nn.Module, **options: Any) -> tuple[Any, list[str]]:
    from recipekit.integrations.transformers import RecipeCallback

    callback = RecipeCallback(QAT_RECIPE, **options)
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path / "out"), per_device_train_batch_size=2, report_to="none", use_cpu=True, save_strategy="no",
        disable_tqdm=True, num_train_epochs=2, lr_scheduler_type="constant", learning_rate=0.01,
    )  # fmt: skip
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        transformers.Trainer(model=model, args=args, train_dataset=QuestionData(), callbacks=[callback]).train()
    return callback, [str(w.message) for w in caught if "attention" in str(w.message) and "QATMatMul" in str(w.message)]


def test_the_callback_quantizes_the_attention_of_a_class_sparseml_modified(tmp_path: Any) -> None:
    model = transformers.BertForQuestionAnswering(config())
    callback, said = train(tmp_path, model)
    assert said == []  # what SparseML did, nothing to say
    assert callback.attention is not None and callback.attention.names == [f"bert.{n}" for n in MATMULS]
    quantization = callback.runner.quantization
    sites = {m.name: m for m in quantization.modules if m.right is not None}
    assert sorted(sites) == [f"bert.{n}" for n in MATMULS]
    assert all(q.observed for m in sites.values() for q in m.quantizers().values())
    # Trained and finalized: the model keeps its quantized attention for export; detach gives it back whole.
    assert isinstance(model.bert.encoder.layer[0].attention.self.attention_scores_matmul, QATMatMul)
    keys = list(model.state_dict())
    callback.runner.detach()
    callback.attention.remove()
    assert not [n for n, m in model.named_modules() if isinstance(m, QATMatMul)]
    assert list(model.state_dict()) == keys


def test_the_callback_says_when_sparseml_left_the_attention_float_and_takes_the_opt_in(tmp_path: Any) -> None:
    def model() -> nn.Module:
        # BertForQuestionAnswering's loss, under a class name SparseML's registry did not hold.
        return type("BertForSpanExtraction", (transformers.BertForQuestionAnswering,), {})(config())

    callback, said = train(tmp_path, model())
    assert callback.attention is None
    assert not [m for m in callback.runner.quantization.modules if m.right is not None]
    assert len(said) == 1 and said[0].startswith("the attention of BertForSpanExtraction trains in float, as under SparseML 1.8")
    assert "RecipeCallback(..., quantize_attention=True) to quantize" in said[0]
    callback, said = train(tmp_path, model(), quantize_attention=True)
    assert callback.attention is not None and len(callback.attention.names) == 4 and said == []
    callback, said = train(tmp_path, model(), quantize_attention=False)
    assert callback.attention is None and said == []


@pytest.mark.filterwarnings("ignore:.*isinstance\\(treespec, LeafSpec\\).*:FutureWarning")  # Lightning on torch 2.13
@pytest.mark.filterwarnings("ignore:.*does not have many workers.*")
def test_the_lightning_callback_modifies_the_hugging_face_model_inside_the_module() -> None:
    pl = pytest.importorskip("lightning.pytorch")
    from recipekit.integrations.lightning import RecipeCallback

    class Module(pl.LightningModule):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.model = models()

        def training_step(self, batch: Any, index: int) -> torch.Tensor:
            return self.model(input_ids=batch[0]).last_hidden_state.square().mean()  # type: ignore[no-any-return]

        def configure_optimizers(self) -> Any:
            return torch.optim.SGD(self.parameters(), lr=0.01)

    module = Module()
    ids = torch.randint(0, 40, (4, 6), generator=torch.Generator().manual_seed(0))
    data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(ids), batch_size=2)
    callback = RecipeCallback(QAT_RECIPE)
    trainer = pl.Trainer(
        max_epochs=2, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, callbacks=[callback],
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # transformers' "pass an attention_mask" advice
        trainer.fit(module, data)
    assert callback.attention is not None and callback.attention.names == MATMULS
    assert sorted(m.name for m in callback.runner.quantization.modules if m.right is not None) == [f"model.{n}" for n in MATMULS]


def test_the_families_sparseml_modified_and_recipekit_does_not_simulate_are_named() -> None:
    opt_config = transformers.OPTConfig(
        vocab_size=40, hidden_size=16, num_hidden_layers=1, ffn_dim=32, num_attention_heads=2, word_embed_proj_dim=16
    )
    opt = transformers.OPTModel(opt_config)
    modification, note = quantize_attention(opt, None)
    assert modification is None and note is not None
    assert note.startswith("SparseML 1.8's modify_model gave OPT's attention QuantizableMatMul/QuantizableBatchMatmul modules")
    assert "BMMLeftInput_QK" in note and "OPTModel trains as transformers defines it" in note
    assert quantize_attention(opt, False)[1] is not None  # still said: SparseML would have modified it
    assert quantize_attention(opt, True) == (
        None,
        "quantize_attention=True, but OPTModel has no BertSelfAttention: recipekit quantizes only BERT's attention matmuls",
    )
    mobile = transformers.MobileBertModel(
        transformers.MobileBertConfig(
            vocab_size=40, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
            embedding_size=8, intra_bottleneck_size=8, true_hidden_size=8, num_feedforward_networks=1,
        )
    )  # fmt: skip
    modification, note = quantize_attention(mobile, None)
    assert modification is None and note is not None and "embedding_transformation Linear with a QATLinear" in note


def test_a_manifest_of_a_model_sparseml_modified_lists_the_matmuls_the_callbacks_add(tmp_path: Any) -> None:
    import json

    from click.testing import CliRunner

    from recipekit.cli import lint_command, main

    manifest = tmp_path / "m.json"
    result = CliRunner().invoke(main, ["params", "--model", "scripts.sparseml_fixtures.attention:models", "-o", str(manifest)])
    assert result.exit_code == 0, result.output
    document = json.loads(manifest.read_text())
    assert [m["name"] for m in document["modules"] if m["type"] == "QATMatMul"] == MATMULS
    # recipe-lint then accepts ignore: [QATMatMul] against it, as attach does after the callbacks' modification;
    # against the unmodified model's modules it is the entry SparseML refused.
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(BERT["runs"]["new-style ignore QATMatMul"]["recipe"])
    lint = CliRunner().invoke(lint_command, [str(recipe), "--params", str(manifest)])
    assert lint.exit_code == 0 and "QATMatMul" not in lint.output, lint.output
    document["modules"] = [m for m in document["modules"] if m["type"] != "QATMatMul"]
    manifest.write_text(json.dumps(document))
    lint = CliRunner().invoke(lint_command, [str(recipe), "--params", str(manifest)])
    assert "ignore entry 'QATMatMul' matches no module name" in lint.output, lint.output


def test_a_model_with_quantized_attention_pickles_with_its_quantizers() -> None:
    model = modified_bert()
    recipe = BERT["runs"]["new-style default scheme"]["recipe"].replace("start_epoch: 1.0", "start_epoch: 0.0")
    runner = attach(recipekit.compile_recipe(recipe, 2), model, torch.optim.SGD(model.parameters(), lr=0.1))
    ids = BERT["inputs"][0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model(input_ids=ids)  # QAT on from step 0: this batch is observed
        runner.finalize()
        model.eval()
        expected = model(input_ids=ids).last_hidden_state
        copy = pickle.loads(pickle.dumps(model))
        assert torch.equal(copy(input_ids=ids).last_hidden_state, expected)
    matmul = copy.encoder.layer[1].attention.self.context_layer_matmul
    assert matmul.forward.quantized.right.observed and not matmul.forward.quantized.right.observing


def test_a_scheme_with_output_activations_and_no_input_activations_is_refused_where_sparseml_crashed() -> None:
    crashed = REGISTRY["new-style output_activations without input_activations"]
    FIX.exact(crashed, "AttributeError: 'NoneType' object has no attribute 'symmetric'", "SparseML's QATWrapper")
    recipe = (
        "modifiers:\n  - !EpochRangeModifier\n    start_epoch: 0.0\n    end_epoch: 3.0\n  - !QuantizationModifier\n"
        "    start_epoch: 0.0\n    ignore: ['Embedding']\n    scheme:\n      input_activations: null\n"
        "      output_activations: {num_bits: 8, symmetric: false}\n"
    )
    model = modified_bert()
    with pytest.raises(RuntimeRefusal, match=r"output_activations without input_activations: SparseML's QATWrapper crashed on QATMatMul"):
        attach(recipekit.compile_recipe(recipe, 2), model, torch.optim.SGD(model.parameters(), lr=0.1))
