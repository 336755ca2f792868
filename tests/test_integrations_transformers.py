"""recipekit.integrations.transformers: one callback in a real Hugging Face Trainer (tiny BERT from a config)."""

from __future__ import annotations

import math
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

import recipekit  # noqa: E402
from recipekit.integrations.transformers import IntegrationWarning, RecipeCallback, RuntimeRefusal  # noqa: E402
from recipekit.runtime import DistillationSkipped, RecipeRuntimeWarning, attach  # noqa: E402
from tests.integration_models import StepProbe, TokenData  # noqa: E402

RECIPE = """\
version: 1.1.0
num_epochs: 4.0
training_modifiers:
  - !EpochRangeModifier
    start_epoch: 0.0
    end_epoch: eval(num_epochs)
  - !LearningRateFunctionModifier
    start_epoch: 0.0
    end_epoch: 2.0
    lr_func: linear
    init_lr: 0.01
    final_lr: 0.001
  - !SetWeightDecayModifier
    start_epoch: 1.0
    weight_decay: 0.0
pruning_modifiers:
  - !GMPruningModifier
    params: ["re:bert.encoder.layer.*.attention.self.query.weight", "re:bert.encoder.layer.*.intermediate.dense.weight"]
    init_sparsity: 0.1
    final_sparsity: 0.7
    start_epoch: 0.0
    end_epoch: 3.0
    update_frequency: 0.5
quantization_modifiers:
  - !QuantizationModifier
    start_epoch: 3.0
    disable_quantization_observer_epoch: 3.5
    submodules: [bert.encoder]
"""
# RECIPE quantizes a BertForSequenceClassification, whose attention SparseML 1.8 left float: every
# run says so (the first test checks the words; tests/test_attention_qat.py the behaviour).
pytestmark = pytest.mark.filterwarnings("ignore:the attention of BertForSequenceClassification trains in float")
PRUNED = [f"bert.encoder.layer.{i}.{part}.weight" for i in range(2) for part in ("attention.self.query", "intermediate.dense")]
SAMPLES, BATCH = 10, 2


def bert(seed: int = 0) -> Any:
    config = transformers.BertConfig(
        vocab_size=100, hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32, max_position_embeddings=32
    )
    torch.manual_seed(seed)
    return transformers.BertForSequenceClassification(config)


def arguments(tmp_path: Path, **overrides: Any) -> Any:
    settings: dict[str, Any] = {
        "output_dir": str(tmp_path / "out"),
        "per_device_train_batch_size": BATCH,
        "report_to": "none",
        "use_cpu": True,
        "save_strategy": "no",
        "disable_tqdm": True,
        "learning_rate": 0.05,
        "weight_decay": 0.01,
        "logging_steps": 1,
    }
    settings.update(overrides)
    return transformers.TrainingArguments(**settings)


class Probe(transformers.TrainerCallback):  # type: ignore[misc]
    def __init__(self, recipe_callback: RecipeCallback) -> None:
        self.recipe_callback = recipe_callback
        self.probe: StepProbe | None = None

    def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None, optimizer: Any = None, **kwargs: Any) -> None:
        self.probe = StepProbe(model, optimizer.optimizer, self.recipe_callback.runner, PRUNED)


def plain_loop(accumulation: int, bf16: bool) -> list[tuple[Any, ...]]:
    """The same plan in an ordinary loop: the reference each Trainer step must equal."""
    plan = recipekit.compile_recipe(RECIPE, math.ceil(SAMPLES / BATCH / accumulation))
    model = bert()
    # The Trainer's two groups: weight decay for the weights, none for biases and LayerNorm.
    named = list(model.named_parameters())
    decays = [not name.endswith("bias") and "LayerNorm" not in name for name, _ in named]
    groups = [
        {"params": [p for (_, p), decay in zip(named, decays, strict=True) if decay], "weight_decay": 0.01},
        {"params": [p for (_, p), decay in zip(named, decays, strict=True) if not decay], "weight_decay": 0.0},
    ]
    optimizer = torch.optim.AdamW(groups, lr=0.05)
    runner = attach(plan, model, optimizer)
    probe = StepProbe(model, optimizer, runner, PRUNED)
    data = TokenData(SAMPLES)
    batches = [{k: torch.stack([data[i][k] for i in range(j, j + BATCH)]) for k in data[0]} for j in range(0, SAMPLES, BATCH)]
    while not runner.done:
        for start in range(0, len(batches), accumulation):
            for batch in batches[start : start + accumulation]:
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                    loss = model(**batch).loss
                loss.backward()
            optimizer.step()
            optimizer.zero_grad()
    runner.finalize()
    return probe.rows


@pytest.mark.parametrize(("accumulation", "bf16"), [(1, False), (2, False), (1, True), (2, True)])
def test_each_trainer_step_uses_the_plain_loops_lr_weight_decay_masks_and_qat_state(tmp_path: Path, accumulation: int, bf16: bool) -> None:
    callback = RecipeCallback(RECIPE)
    probe = Probe(callback)
    args = arguments(tmp_path, gradient_accumulation_steps=accumulation, bf16=bf16)
    with pytest.warns(IntegrationWarning) as caught:
        trainer = transformers.Trainer(model=bert(), args=args, train_dataset=TokenData(SAMPLES), callbacks=[callback, probe])
        trainer.train()
    messages = [str(w.message) for w in caught if w.category is IntegrationWarning]
    # The default TrainingArguments say 3 epochs and a linear schedule: both are overridden, loudly.
    assert any("num_train_epochs changes from 3 to 4" in m for m in messages), messages
    assert any("'linear' LR schedule" in m and "turned off" in m for m in messages), messages
    assert any("RecipeCallback(..., quantize_attention=True) to quantize its attention matmuls" in m for m in messages), messages
    steps = 4 * math.ceil(SAMPLES / BATCH / accumulation)  # ceil(batches / accumulation) per epoch, as the Trainer counts
    assert trainer.state.global_step == steps
    assert probe.probe is not None
    rows = probe.probe.rows
    assert len(rows) == steps
    assert rows == plain_loop(accumulation, bf16)
    # The Trainer logs the LR each step used (its own scheduler would have logged a linear decay from 0.05).
    logged = [entry["learning_rate"] for entry in trainer.state.log_history if "learning_rate" in entry]
    assert logged == [row[0][0] for row in rows]
    assert rows[0][:2] == ((0.01, 0.01), (0.01, 0.0)) and rows[-1][:2] == (pytest.approx((0.001, 0.001)), (0.0, 0.0))
    assert rows[-1][2] == (179, 358, 179, 358)  # 70 % of 256 and 512 weights
    assert rows[-1][3] == (True, False)
    # finalize() ran: pruned weights stay zero and the hooks are gone.
    assert callback.runner is not None and callback.runner.done


def test_resuming_from_a_checkpoint_gives_the_weights_of_an_uninterrupted_run(tmp_path: Path) -> None:
    def trainer(model: Any, save: bool) -> Any:
        args = arguments(
            tmp_path, gradient_accumulation_steps=2, num_train_epochs=4, lr_scheduler_type="constant", bf16=True,
            save_strategy="steps" if save else "no", save_steps=4, logging_steps=50,
        )  # fmt: skip
        return transformers.Trainer(model=model, args=args, train_dataset=TokenData(SAMPLES), callbacks=[RecipeCallback(RECIPE)])

    model = bert()
    trainer(model, save=True).train()
    uninterrupted = model.state_dict()
    assert (tmp_path / "out" / "checkpoint-8" / "recipekit_runner.pt").is_file()
    for step in (4, 8):  # before pruning ends, and across the start of QAT (step 9)
        resumed = bert(seed=1)
        trainer(resumed, save=False).train(resume_from_checkpoint=str(tmp_path / "out" / f"checkpoint-{step}"))
        for name, value in resumed.state_dict().items():
            assert torch.equal(value, uninterrupted[name]), (step, name)
    (tmp_path / "out" / "checkpoint-8" / "recipekit_runner.pt").unlink()
    with pytest.raises(RuntimeRefusal, match=r"resumes at optimizer step 8 but recipekit's runner state \(recipekit_runner.pt\) is not in"):
        trainer(bert(seed=1), save=False).train(resume_from_checkpoint=str(tmp_path / "out" / "checkpoint-8"))


def test_a_length_mismatch_is_refused_with_both_numbers_when_asked_not_to_adjust(tmp_path: Path) -> None:
    args = arguments(tmp_path, num_train_epochs=3, lr_scheduler_type="constant")
    callback = RecipeCallback(RECIPE, adjust_length=False)
    trainer = transformers.Trainer(model=bert(), args=args, train_dataset=TokenData(SAMPLES), callbacks=[callback])
    message = (
        r"the recipe trains for 4 epochs = 20 optimizer steps at 5 steps per epoch, but the trainer will take 15: "
        r"set TrainingArguments\(num_train_epochs=4\) or max_steps=20"
    )
    with pytest.raises(RuntimeRefusal, match=message):
        trainer.train()
    # max_steps below the recipe's length cannot be stretched from a callback: refused even when adjusting.
    args = arguments(tmp_path, max_steps=12, lr_scheduler_type="constant")
    trainer = transformers.Trainer(model=bert(), args=args, train_dataset=TokenData(SAMPLES), callbacks=[RecipeCallback(RECIPE)])
    with pytest.raises(RuntimeRefusal, match="20 optimizer steps at 5 steps per epoch, but the trainer will take 12"):
        trainer.train()


def test_a_longer_trainer_stops_where_the_recipe_ends(tmp_path: Path) -> None:
    args = arguments(tmp_path, max_steps=23, lr_scheduler_type="constant")
    trainer = transformers.Trainer(model=bert(), args=args, train_dataset=TokenData(SAMPLES), callbacks=[RecipeCallback(RECIPE)])
    with pytest.warns(IntegrationWarning, match="trainer will take 23: training stops after step 20"):
        trainer.train()
    assert trainer.state.global_step == 20


def test_a_competing_scheduler_is_reported_and_neutralised(tmp_path: Path) -> None:
    model = bert()
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.05)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    callback = RecipeCallback(RECIPE)
    probe = Probe(callback)
    args = arguments(tmp_path, num_train_epochs=4)
    trainer = transformers.Trainer(
        model=model, args=args, train_dataset=TokenData(SAMPLES), callbacks=[callback, probe], optimizers=(optimizer, scheduler)
    )
    with pytest.warns(IntegrationWarning, match=r"the Trainer's 'linear' LR schedule \(StepLR\) is turned off"):
        trainer.train()
    assert probe.probe is not None
    assert [row[0][0] for row in probe.probe.rows] == [row[0][0] for row in plain_loop(1, False)]
    assert type(scheduler) is torch.optim.lr_scheduler.StepLR  # given back at the end of training


def test_no_torch_optimizer_behind_the_trainers_is_a_clear_refusal(tmp_path: Path) -> None:
    callback = RecipeCallback(RECIPE)
    args = arguments(tmp_path)
    with pytest.raises(RuntimeRefusal, match=r"the Trainer gave recipekit a object, with no torch\.optim\.Optimizer behind it"):
        callback.on_train_begin(args, transformers.TrainerState(), None, model=bert(), optimizer=object(), train_dataloader=[1] * 5)


def test_a_step_the_grad_scaler_skipped_still_advances_the_schedule(tmp_path: Path) -> None:
    """accelerate skips optimizer.step() on inf/NaN gradients: no torch hook fires, the Trainer's events do."""
    model = bert()
    inner = torch.optim.AdamW(model.parameters(), lr=0.05)

    class Skipping:  # accelerate's AcceleratedOptimizer, as far as the callback looks
        optimizer = inner
        param_groups = inner.param_groups
        step_was_skipped = True

    callback = RecipeCallback(RECIPE)
    args = arguments(tmp_path, num_train_epochs=4)
    state = transformers.TrainerState(max_steps=20)
    callback.on_train_begin(args, state, None, model=model, optimizer=Skipping(), train_dataloader=[1] * 5)
    assert callback.runner is not None and callback.runner.step_index == 0
    callback.on_pre_optimizer_step(args, state, None)
    callback.on_optimizer_step(args, state, None)
    assert callback.runner.step_index == 1
    assert inner.param_groups[0]["lr"] == pytest.approx(0.01)  # step 0's instructions ran
    with pytest.warns(RecipeRuntimeWarning, match="training stopped after 1 optimizer steps, but the plan runs 20"):
        callback.on_train_end(args, state, None)


def test_distillation_from_a_teacher_given_to_the_callback(tmp_path: Path) -> None:
    recipe = RECIPE.replace(
        "pruning_modifiers:",
        "distillation_modifiers:\n  - !DistillationModifier\n    start_epoch: 0.0\n    end_epoch: 2.0\n"
        "    hardness: 0.5\n    temperature: 2.0\n    distill_output_keys: [logits]\npruning_modifiers:",
    )
    teacher = bert(seed=3)
    calls: list[int] = []
    teacher.register_forward_hook(lambda module, args, output: calls.append(1))
    callback = RecipeCallback(recipe, teacher=teacher)
    args = arguments(tmp_path, num_train_epochs=4, lr_scheduler_type="constant", gradient_accumulation_steps=2)
    trainer = transformers.Trainer(model=bert(), args=args, train_dataset=TokenData(SAMPLES), callbacks=[callback])
    with warnings.catch_warnings():
        warnings.simplefilter("error", DistillationSkipped)  # a step trained without the teacher
        trainer.train()
    # Steps 0..6 distill (epoch 2's first step included, as SparseML): epochs 0 and 1 are 5 micro-batches
    # each, step 6 the 2 of epoch 2's first accumulation window; one teacher forward per micro-batch.
    assert len(calls) == 5 + 5 + 2
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    assert len(losses) == 12


def test_the_integration_modules_import_no_training_framework() -> None:
    code = (
        "import sys, recipekit.integrations.transformers as t, recipekit.integrations.lightning as l\n"
        "print(sorted(m for m in ('transformers', 'accelerate', 'lightning', 'pytorch_lightning') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# -- issue 20: the first things a user does next ------------------------------------------------------------------------

SAMPLING = """\
version: 1.1.0
modifiers:
  - !EpochRangeModifier {start_epoch: 0.0, end_epoch: 2.0}
  - !PRUNER
    params: ["re:bert.encoder.layer.*.intermediate.dense.weight"]
    init_sparsity: 0.2
    final_sparsity: 0.5
    start_epoch: 0.0
    end_epoch: 1.0
    update_frequency: 0.5
    num_grads: 3
    EXTRA
"""


def token_rows() -> list[dict[str, Any]]:
    """The docs' setup: a plain list of dicts as the train dataset."""
    data = TokenData(SAMPLES)
    return [{key: value.tolist() for key, value in data[i].items()} for i in range(SAMPLES)]


@pytest.mark.parametrize(
    ("pruner", "dataset", "extra", "sample_batch"),
    [
        ("OBSPruningModifier", "list", "fisher_block_size: 8", BATCH),
        ("OBSPruningModifier", "Dataset", "fisher_block_size: 8", BATCH),
        ("OBSPruningModifier", "Dataset", "fisher_block_size: 8\n    grad_sampler_kwargs: {batch_size: 1}", 1),
        ("MFACPruningModifier", "list", "fisher_block_size: 8\n    use_gradient_buffering: false", BATCH),
    ],
)
def test_gradient_samples_come_from_the_trainers_own_batches(
    tmp_path: Path, pruner: str, dataset: str, extra: str, sample_batch: int
) -> None:
    """accelerate's loader says batch_size=None: the samples are batched as the Trainer batches (its collator, its sampler)."""
    recipe = SAMPLING.replace("PRUNER", pruner).replace("EXTRA", extra)
    callback = RecipeCallback(recipe)
    model = bert()
    sizes: list[tuple[bool, int]] = []

    def record(module: Any, args: Any, kwargs: dict[str, Any]) -> None:
        sizes.append((callback._in_optimizer_step, int(kwargs["input_ids"].shape[0])))

    model.register_forward_pre_hook(record, with_kwargs=True)
    train = token_rows() if dataset == "list" else TokenData(SAMPLES)
    args = arguments(tmp_path, num_train_epochs=2, lr_scheduler_type="constant")
    transformers.Trainer(model=model, args=args, train_dataset=train, callbacks=[callback]).train()
    training = [size for sampling, size in sizes if not sampling]
    samples = [size for sampling, size in sizes if sampling]
    assert training == [BATCH] * 10  # 5 batches an epoch, 2 epochs
    assert samples and samples == [sample_batch] * len(samples)
    assert len(samples) == 3 * 3  # num_grads (3) at each of the 3 mask updates
    weights = [model.bert.encoder.layer[i].intermediate.dense.weight for i in range(2)]
    zeros = sum(int((w == 0).sum()) for w in weights) / sum(w.numel() for w in weights)
    assert zeros == pytest.approx(0.5, abs=1e-3)  # the recipe's final_sparsity (global for OBS, as SparseML's default)


DISTILL = """\
version: 1.1.0
modifiers:
  - !EpochRangeModifier {start_epoch: 0.0, end_epoch: 1.0}
  - !DistillationModifier
    start_epoch: 0.0
    end_epoch: 1.0
    hardness: 0.5
    temperature: 2.0
    KEYS
"""


def distilled_losses(tmp_path: Path, model_class: Any, keys: str, train: Any) -> list[float]:
    config = transformers.BertConfig(
        vocab_size=100, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32, max_position_embeddings=32
    )
    torch.manual_seed(0)
    model, teacher = model_class(config), model_class(config)
    callback = RecipeCallback(DISTILL.replace("KEYS", keys), teacher=teacher)
    args = arguments(tmp_path, num_train_epochs=1, lr_scheduler_type="constant")
    trainer = transformers.Trainer(model=model, args=args, train_dataset=train, callbacks=[callback])
    trainer.train()
    return [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]


def test_distillation_without_output_keys_distills_the_logits_of_a_model_output(tmp_path: Path) -> None:
    """SparseML's default (every key) reached the 0-d ``loss`` and failed; its HF recipes named the logits."""
    train = TokenData(SAMPLES)
    default = distilled_losses(tmp_path, transformers.BertForSequenceClassification, "", train)
    named = distilled_losses(tmp_path, transformers.BertForSequenceClassification, "distill_output_keys: [logits]", train)
    assert len(default) == 5 and default == named


def test_distillation_without_output_keys_distills_start_and_end_logits_for_question_answering(tmp_path: Path) -> None:
    data = TokenData(SAMPLES)
    train = [
        {**{k: v for k, v in data[i].items() if k != "labels"}, "start_positions": i % 12, "end_positions": 11} for i in range(SAMPLES)
    ]
    default = distilled_losses(tmp_path, transformers.BertForQuestionAnswering, "", train)
    named = distilled_losses(tmp_path, transformers.BertForQuestionAnswering, "distill_output_keys: [start_logits, end_logits]", train)
    assert len(default) == 5 and default == named


def test_distillation_refuses_outputs_without_logits_naming_the_keys(tmp_path: Path) -> None:
    data = TokenData(SAMPLES)
    train = [{"input_ids": data[i]["input_ids"], "labels": data[i]["input_ids"], "next_sentence_label": i % 2} for i in range(SAMPLES)]
    message = (
        r"<recipe>:4:5 \(DistillationModifier\): the recipe names no distill_output_keys and the model's outputs have no logits to "
        r"distill: its keys are 'loss' \(a 0-d tensor\), 'prediction_logits' \(a tensor of shape \[2, 12, 100\]\), "
        r"'seq_relationship_logits' \(a tensor of shape \[2, 2\]\); set distill_output_keys: \[prediction_logits, seq_relationship_logits\]"
    )
    with pytest.raises(RuntimeRefusal, match=message):
        distilled_losses(tmp_path, transformers.BertForPreTraining, "", train)


def test_a_missing_teacher_is_asked_for_in_the_callbacks_words(tmp_path: Path) -> None:
    args = arguments(tmp_path, num_train_epochs=1, lr_scheduler_type="constant")
    callback = RecipeCallback(DISTILL.replace("KEYS", ""))
    trainer = transformers.Trainer(model=bert(), args=args, train_dataset=TokenData(SAMPLES), callbacks=[callback])
    with pytest.raises(RuntimeRefusal) as caught:
        trainer.train()
    message = str(caught.value)
    assert message.startswith(
        "<recipe>:4:5 (DistillationModifier): the recipe distills from a teacher: pass RecipeCallback(recipe, teacher="
    )
    assert "attach(" not in message


REFUSED = """\
import torch, transformers
from recipekit.integrations.transformers import RecipeCallback
config = transformers.BertConfig(vocab_size=100, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32)
data = [{"input_ids": [1, 2, 3], "labels": 0}] * 4
args = transformers.TrainingArguments(output_dir=OUT, report_to="none", use_cpu=True, disable_tqdm=True, save_strategy="no")
model, recipe = transformers.BertForSequenceClassification(config), RECIPE
trainer = transformers.Trainer(model=model, args=args, train_dataset=data, callbacks=[RecipeCallback(recipe)])
trainer.train()
"""
UNMATCHED = (
    "version: 1.1.0\nmodifiers:\n  - !EpochRangeModifier {start_epoch: 0.0, end_epoch: 3.0}\n  - !GMPruningModifier {params: "
    "[nothing.weight], init_sparsity: 0.1, final_sparsity: 0.5, start_epoch: 0.0, end_epoch: 1.0, update_frequency: 1.0}\n"
)


def test_a_refusal_inside_train_reads_as_one_message_and_warnings_point_at_the_users_code(tmp_path: Path) -> None:
    script = tmp_path / "user_script.py"
    script.write_text(REFUSED.replace("OUT", repr(str(tmp_path / "out"))).replace("RECIPE", repr(UNMATCHED)))
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=False)
    assert result.returncode == 1
    traceback = result.stderr[result.stderr.index("Traceback (most recent call last):") :].splitlines()
    assert traceback[:3] == [
        "Traceback (most recent call last):",
        f'  File "{script}", line 8, in <module>',
        "    trainer.train()",
    ]
    assert len(traceback) == 4, traceback
    assert traceback[-1].startswith("recipekit.runtime.runner.RuntimeRefusal: <recipe>:4:33: 'nothing.weight' matches no parameter")
    # Warnings point at the user's code (here, this test), not at transformers' trainer_callback.py.
    args = arguments(tmp_path, num_train_epochs=2, lr_scheduler_type="linear")
    with pytest.warns(IntegrationWarning) as caught:
        trainer = transformers.Trainer(model=bert(), args=args, train_dataset=TokenData(SAMPLES), callbacks=[RecipeCallback(RECIPE)])
        trainer.train()
    ours = [w for w in caught if issubclass(w.category, IntegrationWarning)]
    assert ours and {Path(w.filename).name for w in ours} == {Path(__file__).name}, [(w.filename, str(w.message)[:60]) for w in ours]


def test_the_sample_loader_of_an_iterable_dataset_takes_no_sampler() -> None:
    from recipekit.integrations import _common

    class Stream(torch.utils.data.IterableDataset[torch.Tensor]):
        def __iter__(self) -> Any:
            return iter(torch.arange(10.0).reshape(10, 1))

    options = _common.loader_options(torch.utils.data.DataLoader(Stream(), batch_size=3))
    assert [len(batch) for batch in _common.sample_loader(options, None)] == [3, 3, 3, 1]
    assert [len(batch) for batch in _common.sample_loader(options, {"batch_size": 5})] == [5, 5]
