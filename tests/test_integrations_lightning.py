"""recipekit.integrations.lightning: one callback in a real Lightning Trainer (small CNN, synthetic data)."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
pl = pytest.importorskip("lightning.pytorch")

import recipekit  # noqa: E402
from recipekit.integrations.lightning import IntegrationWarning, RecipeCallback, RuntimeRefusal  # noqa: E402
from recipekit.runtime import DistillationSkipped, attach  # noqa: E402
from tests.integration_models import StepProbe  # noqa: E402

pytestmark = [
    pytest.mark.filterwarnings("ignore:.*isinstance\\(treespec, LeafSpec\\).*:FutureWarning"),  # Lightning on torch 2.13
    pytest.mark.filterwarnings("ignore:.*does not have many workers.*"),  # one-process DataLoaders, on purpose
]

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
    params: [PARAMS]
    init_sparsity: 0.1
    final_sparsity: 0.7
    start_epoch: 0.0
    end_epoch: 3.0
    update_frequency: 0.5
quantization_modifiers:
  - !QuantizationModifier
    start_epoch: 3.0
    disable_quantization_observer_epoch: 3.5
"""
PRUNED = ["model.features.0.weight", "model.features.3.weight"]
SAMPLES, BATCH = 10, 2


class Net(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        conv, bn, relu = torch.nn.Conv2d, torch.nn.BatchNorm2d, torch.nn.ReLU
        self.features = torch.nn.Sequential(conv(3, 8, 3), bn(8), relu(), conv(8, 8, 3), relu())
        self.head = torch.nn.Linear(8, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).mean((2, 3)))


class Module(pl.LightningModule):  # type: ignore[misc]
    def __init__(self, accumulation: int = 1) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.model = Net()
        self.accumulation = accumulation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def training_step(self, batch: Any, index: int) -> torch.Tensor:
        images, labels = batch
        return torch.nn.functional.cross_entropy(self(images), labels)

    def configure_optimizers(self) -> Any:
        return torch.optim.SGD(self.parameters(), lr=0.05, momentum=0.9, weight_decay=0.01)


def loader() -> Any:
    generator = torch.Generator().manual_seed(0)
    images, labels = torch.randn(SAMPLES, 3, 8, 8, generator=generator), torch.randint(0, 4, (SAMPLES,), generator=generator)
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(images, labels), batch_size=BATCH)


def trainer(callbacks: list[Any], **overrides: Any) -> Any:
    settings: dict[str, Any] = {
        "max_epochs": 4, "accelerator": "cpu", "devices": 1, "logger": False, "enable_checkpointing": False,
        "enable_progress_bar": False, "enable_model_summary": False,
    }  # fmt: skip
    settings.update(overrides)
    return pl.Trainer(callbacks=callbacks, **settings)


class Probe(pl.Callback):  # type: ignore[misc]
    def __init__(self, recipe_callback: Any) -> None:
        self.recipe_callback = recipe_callback
        self.probe: StepProbe | None = None

    def on_train_start(self, trainer: Any, module: Any) -> None:
        self.probe = StepProbe(module, trainer.optimizers[0], self.recipe_callback.runner, PRUNED)


def recipe(params: str = '"features.0.weight", "features.3.weight"') -> str:
    return RECIPE.replace("PARAMS", params)


def plain_loop(accumulation: int, bf16: bool) -> tuple[list[tuple[Any, ...]], dict[str, Any]]:
    """The same plan in an ordinary loop (Lightning divides each loss by accumulate_grad_batches)."""
    plan = recipekit.compile_recipe(recipe(), math.ceil(SAMPLES / BATCH / accumulation))
    module = Module()
    optimizer = module.configure_optimizers()
    runner = attach(plan, module, optimizer)
    probe = StepProbe(module, optimizer, runner, PRUNED)
    batches = list(loader())
    while not runner.done:
        for start in range(0, len(batches), accumulation):
            for batch in batches[start : start + accumulation]:
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                    loss = module.training_step(batch, 0)
                (loss / accumulation).backward()
            optimizer.step()
            optimizer.zero_grad()
    runner.finalize()
    return probe.rows, module.state_dict()


@pytest.mark.parametrize(("accumulation", "precision"), [(1, "32-true"), (2, "32-true"), (1, "bf16-mixed"), (2, "bf16-mixed")])
def test_each_lightning_step_uses_the_plain_loops_lr_weight_decay_masks_and_qat_state(accumulation: int, precision: str) -> None:
    callback = RecipeCallback(recipe())  # names written for the bare Net: the LightningModule's "model." prefix is matched
    probe = Probe(callback)
    module = Module()
    fit = trainer([callback, probe], max_epochs=3, accumulate_grad_batches=accumulation, precision=precision)
    with pytest.warns(IntegrationWarning, match=r"the Trainer's max_epochs=3, max_steps=-1 \(\d+ steps\) become max_epochs=4"):
        fit.fit(module, loader())
    steps = 4 * math.ceil(SAMPLES / BATCH / accumulation)
    assert fit.global_step == steps
    assert probe.probe is not None
    rows, weights = plain_loop(accumulation, precision == "bf16-mixed")
    assert len(probe.probe.rows) == steps
    assert probe.probe.rows == rows
    assert rows[-1][2] == (151, 403) and rows[-1][3] == (True, False)
    # The recipe names "features.0.weight"; the LightningModule's parameters carry its "model." attribute prefix.
    assert callback.runner is not None and sorted(callback.runner.masks()) == PRUNED
    if precision == "32-true":
        # Instructions ran after each batch's backward, not in the torch pre-hook before its forward: bitwise the plain loop.
        for name, value in module.state_dict().items():
            assert torch.equal(value, weights[name]), name


@pytest.mark.filterwarnings("ignore:Be aware that when using `ckpt_path`")  # the resumed runs save nothing, on purpose
def test_resuming_from_a_lightning_checkpoint_gives_the_weights_of_an_uninterrupted_run(tmp_path: Path) -> None:
    checkpoints = pl.callbacks.ModelCheckpoint(dirpath=tmp_path, every_n_epochs=1, save_top_k=-1, filename="{epoch}")
    module = Module()
    trainer([RecipeCallback(recipe()), checkpoints], enable_checkpointing=True, accumulate_grad_batches=2).fit(module, loader())
    uninterrupted = module.state_dict()
    for epoch in (1, 2):  # inside the pruning window; just before QAT starts
        resumed = Module()
        fit = trainer([RecipeCallback(recipe())], accumulate_grad_batches=2)
        fit.fit(resumed, loader(), ckpt_path=str(tmp_path / f"epoch={epoch}.ckpt"))
        for name, value in resumed.state_dict().items():
            assert torch.equal(value, uninterrupted[name]), (epoch, name)
    fit = trainer([RecipeCallback(recipe())], accumulate_grad_batches=2)
    checkpoint = torch.load(tmp_path / "epoch=1.ckpt", weights_only=False)
    checkpoint["callbacks"] = {}
    torch.save(checkpoint, tmp_path / "bare.ckpt")
    with pytest.raises(RuntimeRefusal, match="resumes at optimizer step 6 but the checkpoint holds no recipekit runner state"):
        fit.fit(Module(), loader(), ckpt_path=str(tmp_path / "bare.ckpt"))


def test_a_length_mismatch_is_refused_when_asked_not_to_adjust() -> None:
    fit = trainer([RecipeCallback(recipe(), adjust_length=False)], max_epochs=3)
    with pytest.raises(
        RuntimeRefusal, match=r"20 optimizer steps at 5 steps per epoch, but the trainer will take 15: set Trainer\(max_epochs=4\)"
    ):
        fit.fit(Module(), loader())


@pytest.mark.filterwarnings("ignore:`LightningModule.configure_optimizers` returned `None`")
def test_misuse_gets_a_clear_message() -> None:
    class Manual(Module):
        def __init__(self) -> None:
            super().__init__()
            self.automatic_optimization = False

    with pytest.raises(RuntimeRefusal, match=r"optimizes manually \(automatic_optimization = False\)"):
        trainer([RecipeCallback(recipe())]).fit(Manual(), loader())

    class NoOptimizer(Module):
        def configure_optimizers(self) -> Any:
            return None

    with pytest.raises(RuntimeRefusal, match="configure_optimizers returned 0 optimizers: the recipe's schedule runs in one"):
        trainer([RecipeCallback(recipe())]).fit(NoOptimizer(), loader())

    # A name that matches with no prefix at all: the refusal says the model's names share "model.".
    with pytest.raises(RuntimeRefusal, match=r"matches no parameter of the model; every parameter of the model starts with 'model\.'"):
        trainer([RecipeCallback(recipe('"features.9.weight"'))]).fit(Module(), loader())

    # A recipe that does not compile: its first error, with its position, and no traceback from inside the Trainer.
    broken = recipe().replace("init_sparsity: 0.1", "init_sparsity: 1.5")
    with pytest.raises(RuntimeRefusal, match=r"^the recipe does not compile: <recipe>:\d+:\d+: [A-Z]\d{3} "):
        trainer([RecipeCallback(broken)]).fit(Module(), loader())


def test_distillation_from_a_teacher_given_to_the_callback() -> None:
    distilling = recipe().replace(
        "pruning_modifiers:",
        "distillation_modifiers:\n  - !DistillationModifier\n    start_epoch: 0.0\n    end_epoch: 2.0\n"
        "    hardness: 0.5\n    temperature: 2.0\npruning_modifiers:",
    )
    torch.manual_seed(3)
    teacher = Net()
    calls: list[int] = []
    teacher.register_forward_hook(lambda module, args, output: calls.append(1))
    with warnings.catch_warnings():
        warnings.simplefilter("error", DistillationSkipped)  # a step trained without the teacher
        trainer([RecipeCallback(distilling, teacher=teacher)]).fit(Module(), loader())
    assert len(calls) == 5 + 5 + 1  # steps 0..10: epochs 0 and 1, and the first step of epoch 2 (as SparseML)


# -- issue 20: the first things a user does next ------------------------------------------------------------------------


class Logging(Module):
    def training_step(self, batch: Any, index: int) -> Any:
        loss = super().training_step(batch, index)
        self.log("train_loss", loss)
        return {"loss": loss}


@pytest.mark.parametrize(
    ("pruner", "sample_batch"),
    [
        ("OBSPruningModifier\n    num_grads: 3\n    fisher_block_size: 8", BATCH),
        ("OBSPruningModifier\n    num_grads: 3\n    fisher_block_size: 8\n    grad_sampler_kwargs: {batch_size: 1}", 1),
        ("MFACPruningModifier\n    num_grads: 3\n    fisher_block_size: 8\n    use_gradient_buffering: false", BATCH),
    ],
)
def test_gradient_samples_come_from_the_trainers_train_dataloader(pruner: str, sample_batch: int) -> None:
    """OBS/M-FAC draw from train_dataloader() with its batch size, sampler and collator; the loss is training_step's."""
    obs = recipe().replace("!GMPruningModifier", "!" + pruner).replace("update_frequency: 0.5", "update_frequency: 1.0")
    callback = RecipeCallback(obs)
    module = Logging()
    sizes: list[tuple[bool, int]] = []
    module.model.register_forward_pre_hook(lambda m, args: sizes.append((callback._prepared_at is not None, args[0].shape[0])))
    fitting = trainer([callback])
    fitting.fit(module, loader())
    samples = [size for sampling, size in sizes if sampling]
    assert samples == [sample_batch] * 3 * 4  # num_grads (3) at each mask update, epochs 0, 1, 2 and 3
    assert len(sizes) - len(samples) == 5 * 4  # every training batch, once
    assert set(fitting.callback_metrics) == {"train_loss"}
    named = dict(module.named_parameters())
    zeros = sum(int((named[n] == 0).sum()) for n in PRUNED) / sum(named[n].numel() for n in PRUNED)
    assert zeros == pytest.approx(0.7, abs=2e-3)  # the recipe's final_sparsity


def test_a_missing_teacher_is_asked_for_in_the_callbacks_words() -> None:
    distilling = recipe().replace(
        "pruning_modifiers:", "distillation_modifiers:\n  - !DistillationModifier {start_epoch: 0.0, end_epoch: 2.0}\npruning_modifiers:"
    )
    with pytest.raises(RuntimeRefusal) as caught:
        trainer([RecipeCallback(distilling)]).fit(Module(), loader())
    message = str(caught.value)
    assert "the recipe distills from a teacher: pass RecipeCallback(recipe, teacher=teacher_model)" in message
    assert "attach(" not in message


REFUSED = """\
import lightning.pytorch as pl, torch
from recipekit.integrations.lightning import RecipeCallback
from tests.test_integrations_lightning import Module, loader
recipe = RECIPE
trainer = pl.Trainer(max_epochs=1, accelerator="cpu", logger=False, enable_checkpointing=False, callbacks=[RecipeCallback(recipe)])
trainer.fit(Module(), loader())
"""
UNMATCHED = (
    "version: 1.1.0\nmodifiers:\n  - !EpochRangeModifier {start_epoch: 0.0, end_epoch: 1.0}\n  - !GMPruningModifier {params: "
    "[nothing.weight], init_sparsity: 0.1, final_sparsity: 0.5, start_epoch: 0.0, end_epoch: 1.0, update_frequency: 1.0}\n"
)


def test_a_refusal_inside_fit_reads_as_one_message_and_warnings_point_at_the_users_code(tmp_path: Path) -> None:
    script = tmp_path / "user_script.py"
    script.write_text(REFUSED.replace("RECIPE", repr(UNMATCHED)))
    root = Path(__file__).resolve().parents[1]
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, check=False, cwd=root, env={**os.environ, "PYTHONPATH": str(root)}
    )
    assert result.returncode == 1
    traceback = result.stderr[result.stderr.index("Traceback (most recent call last):") :].splitlines()
    assert traceback[:3] == [
        "Traceback (most recent call last):",
        f'  File "{script}", line 6, in <module>',
        "    trainer.fit(Module(), loader())",
    ]
    # Lightning re-raises from Trainer.fit after calling on_exception: that frame is the one left of the Trainer's.
    assert len(traceback) == 6 and traceback[3].endswith(", in fit") and "/lightning/pytorch/trainer/trainer.py" in traceback[3], traceback
    assert traceback[-1].startswith("recipekit.runtime.runner.RuntimeRefusal: <recipe>:4:33: 'nothing.weight' matches no parameter")
    with pytest.warns(IntegrationWarning) as caught:
        trainer([RecipeCallback(recipe())], max_epochs=2).fit(Module(), loader())
    ours = [w for w in caught if issubclass(w.category, IntegrationWarning)]
    assert ours and {Path(w.filename).name for w in ours} == {Path(__file__).name}, [(w.filename, str(w.message)[:60]) for w in ours]
