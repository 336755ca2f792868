"""recipekit in a Hugging Face ``Trainer``: ``Trainer(..., callbacks=[RecipeCallback("recipe.yaml")])``.

The callback compiles the recipe for the Trainer's own step count (``ceil(batches / accumulation)``
per epoch), attaches the runtime to the torch optimizer inside accelerate's wrapper, turns the
Trainer's LR scheduler into a pass-through while the recipe sets the LR (so the Trainer's logs
show the LR each step used), writes the runner's state into every checkpoint and reads it back on
``resume_from_checkpoint``, feeds OBS gradient samples from the Trainer's train dataloader,
distills from ``teacher=`` and calls ``finalize()`` at the end. See docs/integrations.md.

Nothing here imports transformers: the Trainer calls the callback's ``on_*`` methods by name.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any

import torch

from recipekit.integrations import _common
from recipekit.integrations._common import IntegrationWarning
from recipekit.integrations.attention import AttentionModification
from recipekit.plan.model import Plan
from recipekit.runtime.algorithms.sampling import GradSampler
from recipekit.runtime.runner import PlanRunner, RuntimeRefusal, attach

__all__ = ["IntegrationWarning", "RecipeCallback", "RuntimeRefusal"]

_LR_OPS = ("set_lr", "lr_function", "lr_scheduler")


class RecipeCallback:
    """A ``transformers.TrainerCallback`` that replays a recipe in ``Trainer.train()``.

    ``recipe`` is a recipe file, recipe text, a compiled plan file or a :class:`~recipekit.plan.Plan`;
    ``variables`` override the recipe's. ``teacher`` is the distillation teacher (a module, or
    ``"disable"``); ``grad_sampler`` replaces the default OBS gradient samples (the Trainer's train
    data, loss = the model's ``loss`` output). ``adjust_length`` (default True) makes the Trainer
    train as long as the recipe, with a warning; False refuses a mismatch instead.
    ``steps_per_epoch`` is needed only for a train dataset without a length.
    ``quantize_attention`` decides, when the recipe quantizes, whether BERT's attention matmuls get
    SparseML's ``QATMatMul`` (recipekit.integrations.attention): None (default) where SparseML 1.8's
    registry did (``BertModel``, ``BertForQuestionAnswering``), with a warning where it did not;
    True for any BERT model; False never.
    """

    def __init__(
        self,
        recipe: str | os.PathLike[str] | Plan,
        variables: dict[str, Any] | None = None,
        *,
        teacher: Any = None,
        grad_sampler: GradSampler | None = None,
        adjust_length: bool = True,
        steps_per_epoch: int | None = None,
        quantize_attention: bool | None = None,
    ) -> None:
        self.recipe = recipe
        self.variables = variables
        self.teacher = teacher
        self.grad_sampler = grad_sampler
        self.adjust_length = adjust_length
        self.steps_per_epoch = steps_per_epoch
        self.quantize_attention = quantize_attention
        #: The attention modules given quantizable matmuls for this run (kept after training, for export).
        self.attention: AttentionModification | None = None
        self.runner: PlanRunner | None = None
        self._stop_at: int | None = None
        self._optimizer: Any = None
        self._scheduler: Any = None
        self._scheduler_class: type | None = None
        self._distill_hook: Any = None
        self._in_optimizer_step = False

    # The Trainer calls every event on every callback; those this one does not use do nothing.
    def __getattr__(self, name: str) -> Any:
        if name.startswith("on_"):
            return _ignore
        raise AttributeError(name)

    # -- events -------------------------------------------------------------------------
    def on_init_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Before ``train()`` reads it: make ``num_train_epochs`` the recipe's (unless ``max_steps`` rules).

        Also wraps the Trainer's ``train`` so that a refusal reaches the user without the Trainer's frames.
        """
        trainer = _constructing_trainer(self)
        if trainer is not None and "train" not in vars(trainer):
            trainer.train = _common.refusals_as_messages(trainer.train)
        if not self.adjust_length or args.max_steps > 0:
            return  # max_steps is checked against the plan at on_train_begin
        epochs = _common.recipe_epochs(self.recipe, self.variables)
        if epochs is not None and epochs > 0 and float(args.num_train_epochs) != epochs:
            _common.warn(
                f"the recipe trains for {epochs:g} epochs: the Trainer's num_train_epochs changes from "
                f"{float(args.num_train_epochs):g} to {epochs:g} (RecipeCallback(..., adjust_length=False) refuses instead)",
            )
            args.num_train_epochs = epochs

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        with _common.warnings_at_user_code():
            self._begin(args, state, kwargs)

    def _begin(self, args: Any, state: Any, kwargs: dict[str, Any]) -> None:
        self._release()  # a second train() call, or auto_find_batch_size restarting the loop
        model, optimizer, loader = kwargs.get("model"), kwargs.get("optimizer"), kwargs.get("train_dataloader")
        if not isinstance(model, torch.nn.Module):
            raise RuntimeRefusal(f"the Trainer gave recipekit no torch model to prune (model={type(model).__name__})")
        inner = _common.unwrap_optimizer(optimizer, "the Trainer")
        spe = self._trainer_steps_per_epoch(args, loader)
        plan = _common.resolve_plan(self.recipe, self.variables, spe)
        fix = (
            f"set TrainingArguments(num_train_epochs={plan.max_epochs:g}) or max_steps={plan.total_steps}, "
            "or pass variables= that make the recipe as long as the training"
        )
        stop_at = _common.check_length(plan, int(state.max_steps), self.adjust_length, fix)
        sampler = self.grad_sampler
        if sampler is None and _common.samples_gradients(plan):
            sampler = _train_data_sampler(loader, args)
        _common.check_teacher(plan, self.teacher)
        self.attention = _common.quantizable_attention(plan, model, self.quantize_attention, "RecipeCallback")
        try:
            runner = attach(plan, model, inner, grad_sampler=sampler, teacher=self.teacher)
        except BaseException:
            self._remove_attention()
            raise
        try:
            if state.global_step > 0:
                _common.load_state(runner, _resume_directory(args, state), int(state.global_step))
        except BaseException:
            runner.detach()
            self._remove_attention()
            raise
        self.runner, self._stop_at, self._optimizer = runner, stop_at, optimizer
        if any(i["op"] in _LR_OPS for i in plan.instructions):
            self._take_over_scheduler(kwargs.get("lr_scheduler"), inner, args, fresh=state.global_step == 0)
        if _common.distills(plan, self.teacher):
            self._distill_hook = model.register_forward_hook(self._distill, with_kwargs=True)

    def on_pre_optimizer_step(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._in_optimizer_step = True  # forwards from here on are OBS gradient samples, not training

    def on_optimizer_step(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._in_optimizer_step = False
        # accelerate's GradScaler skipped the update on inf/NaN gradients: no torch hook fired.
        if self.runner is not None and getattr(self._optimizer, "step_was_skipped", False):
            self.runner.step_skipped()

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        if self._stop_at is not None and state.global_step >= self._stop_at:
            control.should_training_stop = True
        return control

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.runner is None or not args.should_save:
            return
        directory = os.path.join(args.output_dir, f"checkpoint-{state.global_step}")
        if not os.path.isdir(directory):
            raise RuntimeRefusal(
                f"the Trainer saved a checkpoint, but not in {directory}: recipekit cannot save its runner state beside it"
            )
        _common.save_state(self.runner, directory)

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        runner = self.runner
        with _common.warnings_at_user_code():
            self._release(finalize=True)
        del runner

    # -- helpers ------------------------------------------------------------------------
    def _trainer_steps_per_epoch(self, args: Any, loader: Any) -> int:
        accumulation = int(args.gradient_accumulation_steps)
        try:
            batches = len(loader)
        except TypeError:
            batches = None
        if batches is None:
            if self.steps_per_epoch is None:
                raise RuntimeRefusal(
                    "the train dataset has no length (an IterableDataset), so the Trainer's epochs are unknown: "
                    "pass RecipeCallback(..., steps_per_epoch=N), N the optimizer steps the recipe calls an epoch"
                ) from None
            return self.steps_per_epoch
        spe = _common.steps_per_epoch(batches, accumulation)
        if self.steps_per_epoch is not None and self.steps_per_epoch != spe:
            raise RuntimeRefusal(
                f"steps_per_epoch={self.steps_per_epoch} but the Trainer takes {spe} optimizer steps per epoch "
                f"({batches} batches, gradient_accumulation_steps={accumulation}): drop the argument"
            )
        return spe

    def _take_over_scheduler(self, scheduler: Any, optimizer: torch.optim.Optimizer, args: Any, fresh: bool) -> None:
        """Make the Trainer's scheduler a pass-through that reports the LR each step used (SparseML v1's fix)."""
        if scheduler is None:
            return
        kind = str(getattr(args.lr_scheduler_type, "value", args.lr_scheduler_type))
        warmup = bool(getattr(args, "warmup_steps", 0)) or bool(getattr(args, "warmup_ratio", 0))
        if kind != "constant" or warmup:
            _common.warn(
                f"the recipe sets the learning rate: the Trainer's {kind!r} LR schedule{' and warmup' if warmup else ''} "
                f"({type(scheduler).__name__}) is turned off, and its logs report the LR each step used "
                "(TrainingArguments(lr_scheduler_type='constant') says so and silences this)",
            )
        groups = optimizer.param_groups
        if fresh:
            for group in groups:
                # The scheduler's constructor already applied its factor at step 0 (0 under warmup).
                group["lr"] = group.get("initial_lr", group["lr"])
        # A subclass swapped in, not patched methods: the Trainer pickles the scheduler's __dict__ into checkpoints.
        self._scheduler, self._scheduler_class = scheduler, type(scheduler)
        scheduler.__class__ = _pass_through(type(scheduler))

    def _distill(self, module: torch.nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any], output: Any) -> Any:
        runner = self.runner
        if runner is None or self._in_optimizer_step or not module.training or not torch.is_grad_enabled():
            return None
        if isinstance(output, Mapping):
            loss = output.get("loss")
        elif isinstance(output, (tuple, list)) and output:
            loss = output[0]
        else:
            loss = None
        if not isinstance(loss, torch.Tensor):
            raise RuntimeRefusal(
                "the recipe distills, and the Trainer's loss comes from the model's 'loss' output, but the model returned none: "
                "pass labels in the batch"
            )
        inputs: Any = kwargs if kwargs else args
        total = runner.distillation_loss(loss, output, inputs)
        if total is loss:
            return None
        if isinstance(output, MutableMapping):
            output["loss"] = total  # a ModelOutput: its attribute follows the key
            return output
        return type(output)([total, *output[1:]])

    def _release(self, finalize: bool = False) -> None:
        if self._distill_hook is not None:
            self._distill_hook.remove()
            self._distill_hook = None
        if self._scheduler is not None:
            self._scheduler.__class__ = self._scheduler_class
            self._scheduler, self._scheduler_class = None, None
        if self.runner is not None:
            if finalize:
                self.runner.finalize()
            else:
                self.runner.detach()
        if not finalize:
            self._remove_attention()  # a finalized model keeps its quantized attention, for export
        self._stop_at = None

    def _remove_attention(self) -> None:
        if self.attention is not None:
            self.attention.remove()
            self.attention = None


def _ignore(*args: Any, **kwargs: Any) -> None:
    return None


_PASS_THROUGH: dict[type, type] = {}


def _pass_through(base: type) -> type:
    """``base`` whose ``step`` leaves the LR alone and whose ``get_last_lr`` is the LR the optimizer uses."""
    if base not in _PASS_THROUGH:

        def step(self: Any, *args: Any, **kwargs: Any) -> None:
            self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

        def get_last_lr(self: Any) -> list[float]:
            return [group["lr"] for group in self.optimizer.param_groups]

        _PASS_THROUGH[base] = type(f"RecipePassThrough{base.__name__}", (base,), {"step": step, "get_last_lr": get_last_lr})
    return _PASS_THROUGH[base]


def _constructing_trainer(callback: RecipeCallback) -> Any:
    """The ``Trainer`` whose ``__init__`` is calling ``on_init_end`` (callbacks are not given it), or None."""
    frame = sys._getframe(2)
    while frame is not None:
        candidate = frame.f_locals.get("self") if frame.f_code.co_name == "__init__" else None
        handler = getattr(candidate, "callback_handler", None)
        if callback in getattr(handler, "callbacks", ()):
            return candidate
        frame = frame.f_back  # type: ignore[assignment]
    return None


def _resume_directory(args: Any, state: Any) -> str | None:
    """The checkpoint ``Trainer.train(resume_from_checkpoint=...)`` resumes from.

    The Trainer keeps it in a local variable its callbacks are not given; the frames of the
    running ``train()`` hold it. Falls back to ``output_dir/checkpoint-<global_step>``.
    """
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name in ("_inner_training_loop", "train"):
            value = frame.f_locals.get("resume_from_checkpoint")
            if isinstance(value, (str, os.PathLike)):
                return os.fspath(value)
        frame = frame.f_back  # type: ignore[assignment]
    candidate = os.path.join(args.output_dir, f"checkpoint-{state.global_step}")
    return candidate if os.path.isdir(candidate) else None


def _train_data_sampler(loader: Any, args: Any) -> GradSampler:
    """OBS gradient samples as SparseML's Trainer drew them: the train data, loss = the model's ``loss`` output."""
    if loader is None:
        raise RuntimeRefusal(
            "the recipe prunes with OBS, which samples gradients from training data, but the Trainer has no train dataloader"
        )
    options = _common.loader_options(loader, int(args.per_device_train_batch_size))
    device = getattr(loader, "device", None)

    def data(kwargs: dict[str, Any] | None) -> Iterator[tuple[list[Any], dict[str, Any], Any]]:
        samples = _common.sample_loader(options, kwargs)
        while True:  # SparseML's builder looped forever; each sample continues where the last stopped
            for batch in samples:
                yield [], _to(batch, device), None

    def loss(outputs: Any, target: Any) -> torch.Tensor:
        value = outputs["loss"] if isinstance(outputs, Mapping) else outputs[0]
        if not isinstance(value, torch.Tensor):
            raise RuntimeRefusal("OBS gradient samples need the model's 'loss' output: the train batches must hold labels")
        return value

    return GradSampler(data, loss)


def _to(batch: Any, device: Any) -> Any:
    if device is None:
        return batch
    if isinstance(batch, Mapping):
        return {key: _to(value, device) for key, value in batch.items()}
    return batch.to(device) if isinstance(batch, torch.Tensor) else batch
