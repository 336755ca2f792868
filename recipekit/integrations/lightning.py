"""recipekit in a Lightning ``Trainer``: ``Trainer(callbacks=[RecipeCallback("recipe.yaml")])``.

The callback compiles the recipe for the Trainer's step count (``ceil(num_training_batches /
accumulate_grad_batches)`` per epoch), makes the Trainer as long as the recipe (or refuses),
attaches the runtime to the LightningModule's torch optimizer and runs each step's instructions
from ``on_before_optimizer_step``: after backward (and unscaling) at every precision, where a torch
step pre-hook would fire before the batch's forward in ``32-true``/``bf16-mixed``. The runner's
state travels in Lightning checkpoints; ``teacher=`` distills the loss ``training_step`` returns
against the student outputs ``self(...)`` gave; ``finalize()`` runs at the end of fit.

Importing this module imports nothing from Lightning: ``RecipeCallback`` is built on first use,
on ``lightning.pytorch.Callback`` or, without the ``lightning`` package, ``pytorch_lightning.Callback``.
"""

from __future__ import annotations

import importlib
import math
import os
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import torch

from recipekit.integrations import _common
from recipekit.integrations._common import IntegrationWarning
from recipekit.integrations.attention import AttentionModification
from recipekit.plan.model import Plan
from recipekit.runtime.algorithms.sampling import GradSampler
from recipekit.runtime.runner import PlanRunner, RuntimeRefusal, attach

__all__ = ["IntegrationWarning", "RecipeCallback", "RuntimeRefusal"]


class _RecipeCallback:
    """The callback's behaviour; ``RecipeCallback`` adds Lightning's ``Callback`` base.

    ``recipe`` is a recipe file, recipe text, a compiled plan file or a :class:`~recipekit.plan.Plan`;
    ``variables`` override the recipe's. ``teacher`` is the distillation teacher (a module, or
    ``"disable"``); ``grad_sampler`` replaces the default OBS/M-FAC gradient samples (batches of the Trainer's
    ``train_dataloader()``, loss = what ``training_step`` returns). ``adjust_length`` (default
    True) sets the Trainer's ``max_epochs``/``max_steps`` to the recipe's, with a warning; False
    refuses a mismatch instead.
    """

    def __init__(
        self,
        recipe: str | os.PathLike[str] | Plan,
        variables: dict[str, Any] | None = None,
        *,
        teacher: Any = None,
        grad_sampler: GradSampler | None = None,
        adjust_length: bool = True,
        quantize_attention: bool | None = None,
    ) -> None:
        super().__init__()
        self.recipe = recipe
        self.variables = variables
        self.teacher = teacher
        self.grad_sampler = grad_sampler
        self.adjust_length = adjust_length
        self.quantize_attention = quantize_attention
        #: The attention modules given quantizable matmuls for this run (kept after fit, for export).
        self.attention: AttentionModification | None = None
        self.runner: PlanRunner | None = None
        self._loaded: dict[str, Any] | None = None
        self._prepared_at: int | None = None
        self._student: tuple[Any, Any] | None = None
        self._hooks: list[Any] = []
        self._training_step: Any = None

    # -- Lightning hooks ------------------------------------------------------------------
    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        with _common.warnings_at_user_code():
            self._start(trainer, pl_module)

    def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
        # Lightning re-raises the exception with a bare raise after this hook: a refusal then reaches
        # the user without the Trainer's frames.
        _common.shorten(exception)

    def _start(self, trainer: Any, pl_module: Any) -> None:
        self._release()
        if not pl_module.automatic_optimization:
            raise RuntimeRefusal(
                "this LightningModule optimizes manually (automatic_optimization = False): recipekit needs Lightning's automatic "
                "optimization to know when a step happens; call recipekit.runtime.attach(...) yourself and runner.before_step() "
                "before each optimizer.step() (docs/integrations.md)"
            )
        # Lightning stands a _MockOptimizer in for configure_optimizers returning None.
        optimizers = [o for o in trainer.optimizers if type(o).__name__ != "_MockOptimizer"]
        if len(optimizers) != 1:
            raise RuntimeRefusal(
                f"configure_optimizers returned {len(optimizers)} optimizers: the recipe's schedule runs in one optimizer's steps"
            )
        optimizer = _common.unwrap_optimizer(optimizers[0], "the Lightning Trainer")
        accumulation = int(trainer.accumulate_grad_batches)
        batches = trainer.num_training_batches
        if not isinstance(batches, int) or batches <= 0:
            raise RuntimeRefusal(
                f"the Trainer's train dataloader has no fixed length ({batches}), so its epochs are unknown: give the dataset a length "
                "or set Trainer(limit_train_batches=N)"
            )
        spe = _common.steps_per_epoch(batches, accumulation)
        plan = _common.resolve_plan(self.recipe, self.variables, spe)
        self._reconcile(trainer, plan, spe)
        sampler = self.grad_sampler
        if sampler is None and _common.samples_gradients(plan):
            sampler = _train_data_sampler(trainer, pl_module)
        _common.check_teacher(plan, self.teacher)
        # The Hugging Face model inside the LightningModule, as SparseML's SparseAutoModel loaded and modified it.
        network = _common.hugging_face_model(pl_module)
        if network is not None:
            self.attention = _common.quantizable_attention(plan, network, self.quantize_attention, "RecipeCallback")
        try:
            runner = attach(plan, pl_module, optimizer, grad_sampler=sampler, teacher=self.teacher, hook_before_step=False)
        except BaseException:
            self._remove_attention()
            raise
        try:
            if trainer.global_step > 0 or self._loaded is not None:
                self._restore(runner, trainer.global_step)
        except BaseException:
            runner.detach()
            self._remove_attention()
            raise
        self.runner = runner
        if _common.distills(plan, self.teacher):
            self._distill_through(pl_module)

    def on_before_optimizer_step(self, trainer: Any, pl_module: Any, optimizer: Any) -> None:
        # After this step's backward (and the GradScaler's unscale), before the update, at every precision.
        if self.runner is not None:
            self._prepared_at = self.runner.step_index
            self.runner.before_step()

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        runner = self.runner
        if runner is not None and self._prepared_at is not None:
            if runner.step_index == self._prepared_at:
                runner.step_skipped()  # prepared, but the GradScaler skipped the update (inf/NaN gradients)
            self._prepared_at = None

    def on_train_end(self, trainer: Any, pl_module: Any) -> None:
        with _common.warnings_at_user_code():
            self._release(finalize=True)

    def state_dict(self) -> dict[str, Any]:
        return {} if self.runner is None else {"runner": self.runner.state_dict()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        # Lightning restores callbacks before the optimizers exist: kept until on_train_start attaches.
        self._loaded = state_dict.get("runner")

    # -- helpers ------------------------------------------------------------------------------
    def _reconcile(self, trainer: Any, plan: Plan, spe: int) -> None:
        fit_loop = trainer.fit_loop
        max_steps = int(fit_loop.max_steps)
        max_epochs = fit_loop.max_epochs
        total = trainer.estimated_stepping_batches
        trainer_steps = -1 if total == float("inf") else int(total)
        if trainer_steps == plan.total_steps:
            return
        epochs = math.ceil(plan.total_steps / spe) if spe else 0
        if not self.adjust_length:
            fix = f"set Trainer(max_epochs={epochs:g}" + (f", max_steps={plan.total_steps})" if plan.total_steps % spe else ")")
            _common.check_length(plan, trainer_steps, False, f"{fix}, or pass variables= that make the recipe as long as the training")
        _common.warn(
            f"the recipe trains for {plan.max_epochs:g} epochs = {plan.total_steps} optimizer steps at {spe} steps per epoch: the "
            f"Trainer's max_epochs={max_epochs}, max_steps={max_steps} ({trainer_steps} steps) become max_epochs={epochs}, "
            f"max_steps={plan.total_steps} (RecipeCallback(..., adjust_length=False) refuses instead)",
        )
        fit_loop.max_epochs = epochs
        fit_loop.epoch_loop.max_steps = plan.total_steps

    def _restore(self, runner: PlanRunner, step: int) -> None:
        state = self._loaded
        self._loaded = None
        if state is None:
            raise RuntimeRefusal(
                f"the Trainer resumes at optimizer step {step} but the checkpoint holds no recipekit runner state: resume from a "
                "checkpoint saved with this callback, or the recipe would restart at step 0"
            )
        if state.get("step") != step:
            raise RuntimeRefusal(
                f"the checkpoint holds the recipekit runner at step {state.get('step')!r} but the Trainer resumes at step {step}"
            )
        runner.load_state_dict(state)

    def _distill_through(self, pl_module: Any) -> None:
        """Distill the loss ``training_step`` returns, with the outputs and inputs of the module's forward in that step."""

        def remember(module: Any, args: tuple[Any, ...], kwargs: dict[str, Any], output: Any) -> None:
            if torch.is_grad_enabled():
                inputs: Any = kwargs if kwargs else (args[0] if len(args) == 1 else args)
                self._student = (output, inputs)

        self._hooks.append(pl_module.register_forward_hook(remember, with_kwargs=True))
        original = pl_module.training_step

        def training_step(*args: Any, **kwargs: Any) -> Any:
            self._student = None
            result = original(*args, **kwargs)
            runner = self.runner
            if runner is None:
                return result
            loss = result["loss"] if isinstance(result, Mapping) else result
            if self._student is None:
                raise RuntimeRefusal(
                    "the recipe distills, but training_step did not call the LightningModule itself (self(...)): recipekit takes the "
                    "student's outputs and inputs from that call"
                )
            outputs, inputs = self._student
            total = runner.distillation_loss(loss, outputs, inputs)
            if isinstance(result, Mapping):
                return {**result, "loss": total}
            return total

        pl_module.training_step = training_step
        self._training_step = pl_module

    def _release(self, finalize: bool = False) -> None:
        for hook in self._hooks:
            hook.remove()
        self._hooks = []
        if self._training_step is not None:
            vars(self._training_step).pop("training_step", None)
            self._training_step = None
        if self.runner is not None:
            if finalize:
                self.runner.finalize()
            else:
                self.runner.detach()
        if not finalize:
            self._remove_attention()  # a finalized model keeps its quantized attention, for export
        self._prepared_at = None

    def _remove_attention(self) -> None:
        if self.attention is not None:
            self.attention.remove()
            self.attention = None


def _train_data_sampler(trainer: Any, pl_module: Any) -> GradSampler:
    """OBS/M-FAC gradient samples from the Trainer's train dataloader, loss = what ``training_step`` returns."""
    options = _common.loader_options(trainer.train_dataloader)
    training_step = pl_module.training_step  # the module's own, before distillation wraps it

    def data(kwargs: dict[str, Any] | None) -> Iterator[tuple[int, Any]]:
        samples = _common.sample_loader(options, kwargs)
        while True:  # as SparseML's builders: each sample continues where the last stopped
            yield from enumerate(samples)

    def step(item: tuple[int, Any]) -> torch.Tensor:
        index, batch = item
        batch = trainer.strategy.batch_to_device(batch)
        # A sample is not a training step: what training_step logs from it is not the epoch's.
        pl_module.log, pl_module.log_dict = _ignore, _ignore
        try:
            result = training_step(batch, index)
        finally:
            del pl_module.log, pl_module.log_dict
        loss = result.get("loss") if isinstance(result, Mapping) else result
        if not isinstance(loss, torch.Tensor):
            raise RuntimeRefusal(
                f"OBS/M-FAC gradient samples take their loss from training_step, which returned {type(result).__name__}: "
                "return the loss, or pass RecipeCallback(recipe, grad_sampler=GradSampler(data, loss))"
            )
        return loss

    return GradSampler(data, step=step)


def _ignore(*args: Any, **kwargs: Any) -> None:
    return None


def _callback_base() -> type:
    """Lightning's ``Callback`` class: ``lightning.pytorch``'s, else the older ``pytorch_lightning`` package's."""
    for package in ("lightning.pytorch", "pytorch_lightning"):
        try:
            module = importlib.import_module(package)
        except ModuleNotFoundError:
            continue
        base: type = module.Callback
        return base
    raise ModuleNotFoundError("recipekit.integrations.lightning needs Lightning: pip install 'recipekit[lightning]'", name="lightning")


if TYPE_CHECKING:
    RecipeCallback = _RecipeCallback
else:

    def __getattr__(name: str) -> Any:
        if name == "RecipeCallback":
            built = type(
                "RecipeCallback", (_RecipeCallback, _callback_base()), {"__module__": __name__, "__doc__": _RecipeCallback.__doc__}
            )
            globals()["RecipeCallback"] = built
            return built
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
