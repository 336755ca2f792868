"""Replay a plan inside any PyTorch training loop.

``attach(plan, model, optimizer)`` checks everything first (plan format,
selectors, param groups) and only then registers two optimizer step hooks:
before step k it applies that step's instructions (LR, weight decay,
trainable flags, mask updates); gradients of pruned weights are masked as
backward accumulates them; after the step it re-applies the enabled masks, so
momentum and weight decay cannot revive pruned weights (unless the optimizer's
cleared state already keeps them at zero: see ``_held_by_state``). The training
loop stays as it was.

Imports nothing from recipekit but the plan model, its closed forms and the
selector matcher, and torch.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from typing import Any, cast

import torch

from recipekit.plan import ops
from recipekit.plan import selectors as param_match
from recipekit.plan.model import Plan, load_plan
from recipekit.plan.ops import (
    HoldMaskOp,
    Instruction,
    LrFunctionOp,
    LrSchedulerOp,
    NoteOp,
    PruneOp,
    QatOp,
    SetLrOp,
    SetTrainableOp,
    SetWeightDecayOp,
)
from recipekit.plan.schedule import epoch_at
from recipekit.runtime import masks
from recipekit.runtime.qat import QatConfigError, Quantization, plan_quantization

#: Instructions this runtime executes (every op of recipekit.plan.ops); a plan with others is refused at attach.
SUPPORTED = frozenset(ops.OPS)
PRUNABLE_TYPES = (torch.nn.Linear, torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Conv3d, torch.nn.Embedding)


#: Optimizers whose update of an element is exactly zero when its gradient, its weight and its
#: state are zero there: elementwise rules with no norm or sum across a tensor.
ZERO_PRESERVING = (torch.optim.SGD, torch.optim.Adam, torch.optim.AdamW, torch.optim.RMSprop, torch.optim.Adagrad)


class RuntimeRefusal(ValueError):
    """The plan cannot run on this model/optimizer; nothing was changed."""


def _where(instruction: Instruction) -> str:
    origin = instruction["origin"]
    return f"{origin['path']}:{origin['line']}:{origin['column']} ({origin['modifier']})"


@dataclass
class _Prune:
    instruction: PruneOp
    names: list[str]
    finals: dict[str, float]
    done: bool = False


@dataclass
class _State:
    step: int = 0
    #: Keep-masks in the parameter's dtype (1 = keep): a float ``mul_`` streams at memory speed,
    #: a bool one takes torch's promotion path, about 8x slower (perf-baselines §4).
    masks: dict[str, torch.Tensor] = field(default_factory=dict)
    #: requires_grad values to restore, by parameter name.
    trainable_restore: dict[str, bool] = field(default_factory=dict)


class PlanRunner:
    def __init__(self, plan: Plan, model: torch.nn.Module, optimizer: torch.optim.Optimizer, scaler: Any = None) -> None:
        self.plan = plan
        self.model = model
        self.optimizer = optimizer
        self._params = dict(model.named_parameters())
        self._manifest = _manifest(model)
        self._selected = self._resolve_all()
        self._check_groups()
        self._check_mask_shapes()
        self._state = _State()
        self._prunes = [_Prune(i, self._selected[i["selector"]], self._finals(i)) for i in plan.instructions if i["op"] == "prune"]
        self._prune_of = {id(p.instruction): p for p in self._prunes}
        self._quantization = self._plan_quantization()
        # Each instruction with its handler (`_prune` for op "prune", ...), in plan (step) order.
        self._handlers = [(i, getattr(self, "_" + i["op"])) for i in plan.instructions]
        self._hooks: list[Any] = [
            optimizer.register_step_pre_hook(self._before_step),
            optimizer.register_step_post_hook(self._after_step),
        ]
        # Gradients of pruned weights are masked as backward accumulates them, as SparseML's
        # gradient hooks did: gradient clipping and DDP's all-reduce then see masked gradients.
        maskable = {n for i in plan.instructions if i["op"] in ("prune", "hold_mask") for n in self._selected[i["selector"]]}
        self._name_of = {id(self._params[name]): name for name in maskable}
        self._masked_grads: set[str] = set()
        released = {
            name
            for i in plan.instructions
            if ((i["op"] == "prune" and not i["leave_enabled"]) or i["op"] == "hold_mask")
            and i["end_step"] is not None
            and i["end_step"] < plan.total_steps  # a release at the end of training releases nothing
            for name in self._selected[i["selector"]]
        }
        # Masks that are never released nor loosened, under an optimizer that keeps zeros zero:
        # once the optimizer's state is cleared where they prune, a masked gradient and a zero
        # weight give an update of exactly zero there, so the pass that re-applies them after
        # every step can go; the weights are the same to the bit. SparseML left that state in
        # place (the gradient of a weight pruned at step k reached it, masked by the old mask), and
        # it only reaches a weight once the weight is un-pruned: a release, a target that goes
        # down, two modifiers on one tensor. Those keep SparseML's state and the per-step pass.
        self._held_by_state = maskable - released - _may_loosen(plan, self._selected) if type(optimizer) in ZERO_PRESERVING else set()
        self._warned_revived: set[str] = set()
        for name in sorted(maskable):
            # torch ships this method without annotations.
            self._hooks.append(self._params[name].register_post_accumulate_grad_hook(self._mask_grad))  # type: ignore[no-untyped-call]
        self._scaler_restore: tuple[Any, Any] | None = None
        if scaler is not None:
            self._wrap_scaler(scaler)
        if self._quantization is not None and self._quantization.start_step == 0:
            # SparseML enables QAT at initialize when it starts at epoch 0 (or -1): before the first forward.
            self._quantization.enable()

    # -- checks (all before anything is changed) ---------------------------------
    def _resolve_all(self) -> dict[str, list[str]]:
        unsupported = [i for i in self.plan.instructions if i["op"] not in SUPPORTED]
        if unsupported:
            first = unsupported[0]
            raise RuntimeRefusal(f"{_where(first)}: this runtime does not execute {first['op']!r} instructions yet")
        resolved: dict[str, list[str]] = {}
        for selector in self.plan.selectors:
            names, unmatched = param_match.resolve(selector["patterns"], self._manifest)
            if unmatched:
                ddp_names, ddp_unmatched = self._resolve_ddp(selector["patterns"])
                if not ddp_unmatched:
                    names, unmatched = ddp_names, []
            if unmatched or not names:
                where = f"{selector.get('path')}:{selector.get('line')}:{selector.get('column')}"
                raise RuntimeRefusal(f"{where}: {unmatched[0] if unmatched else selector['patterns']!r} matches no parameter of the model")
            resolved[selector["id"]] = names
        return resolved

    def _resolve_ddp(self, patterns: list[str]) -> tuple[list[str], list[str]]:
        """Names written for the bare model also match a DistributedDataParallel model, and back."""
        prefixed = [p if p.startswith(("re:", "__")) else ("module." + p if not p.startswith("module.") else p[7:]) for p in patterns]
        prefixed = [("re:module." + p[3:]) if p.startswith("re:") and not p.startswith("re:module.") else p for p in prefixed]
        return param_match.resolve(prefixed, self._manifest)

    def _check_groups(self) -> None:
        count = len(self.optimizer.param_groups)
        for instruction in self.plan.instructions:
            groups = cast("list[int] | None", instruction.get("param_groups"))
            if groups and max(groups) >= count:
                raise RuntimeRefusal(f"{_where(instruction)}: param group {max(groups)} does not exist (the optimizer has {count})")

    def _check_mask_shapes(self) -> None:
        """A mask SparseML could not make for these tensors (it raised mid-training, or made an unusable one)."""
        for instruction in self.plan.instructions:
            if instruction["op"] == "prune":
                shapes = [list(self._params[n].shape) for n in self._selected[instruction["selector"]]]
                issue = masks.problem(shapes, instruction["mask_type"])
                if issue:
                    raise RuntimeRefusal(f"{_where(instruction)}: mask_type {instruction['mask_type']!r}: {issue}")

    def _plan_quantization(self) -> Quantization | None:
        instructions = [i for i in self.plan.instructions if i["op"] == "qat"]
        if not instructions:
            return None
        if len(instructions) > 1:
            count = len(instructions)
            raise RuntimeRefusal(f"{_where(instructions[1])}: the runtime simulates one QuantizationModifier; this plan has {count}")
        instruction = instructions[0]
        try:
            planned = plan_quantization(instruction["flavour"], instruction["config"], self.model)
        except QatConfigError as error:
            raise RuntimeRefusal(f"{_where(instruction)}: {error}") from None
        step, off = instruction["step"], instruction["observer_step"]
        if step > 0 and off is not None and off <= step:
            # Enabled after step `step`'s forward, observers off in the same update: no batch is ever observed.
            ignoring = [q.name for q in planned if q.weight is not None and q.weight_ignores_disable]
            never = [q.name for q in planned if q.name not in ignoring]
            warnings.warn(
                f"{_where(instruction)}: observers are disabled at the step QAT starts ({step}), so {len(never)} quantized "
                f"modules never observe a batch: {never[:5]}{' ...' if len(never) > 5 else ''}. Their fake quantization uses "
                "scale 1.0 and zero point 0, as SparseML's did; move disable_quantization_observer_epoch after start_epoch",
                RuntimeWarning,
                stacklevel=4,
            )
        return Quantization(planned, self._state_mask, step)

    def _state_mask(self, name: str) -> torch.Tensor | None:
        return self._state.masks.get(name)

    def _finals(self, instruction: PruneOp) -> dict[str, float]:
        final = instruction["final_sparsity"]
        names = self._selected[instruction["selector"]]
        if not isinstance(final, dict):
            return dict.fromkeys(names, float(final))
        finals: dict[str, float] = {}
        for sparsity, patterns in final.items():
            for name in param_match.resolve(patterns, self._manifest)[0]:
                finals.setdefault(name, float(sparsity))
        return finals

    # -- public state -------------------------------------------------------------
    @property
    def step_index(self) -> int:
        """The optimizer step the next ``optimizer.step()`` is (0-based)."""
        return self._state.step

    @property
    def epoch(self) -> float:
        return epoch_at(self._state.step, self.plan.steps_per_epoch)

    @property
    def done(self) -> bool:
        return self._state.step >= self.plan.total_steps

    def masks(self) -> dict[str, torch.Tensor]:
        """The enabled keep-masks by parameter name, as bool tensors (True = kept)."""
        return {name: mask.bool() for name, mask in self._state.masks.items()}

    @property
    def qat_enabled(self) -> bool:
        """Whether the modules the plan quantizes run with fake quantization."""
        return self._quantization is not None and self._quantization.enabled

    @property
    def qat_observing(self) -> bool | None:
        """Whether the fake-quant observers still update; None without QAT (SparseML's ``qat_observers``)."""
        return self._quantization.observing if self._quantization is not None and self._quantization.enabled else None

    @property
    def bn_frozen(self) -> bool | None:
        """Whether folded BatchNorms use frozen statistics; None while no Conv+BN pair is folded."""
        quantization = self._quantization
        return quantization.bn_frozen if quantization is not None and quantization.enabled and quantization.folds else None

    def quantization_params(self) -> dict[str, dict[str, dict[str, torch.Tensor]]]:
        """``{module: {"weight"|"input"|"output": {"scale", "zero_point"}}}`` of every observed fake-quantizer."""
        return {} if self._quantization is None else self._quantization.parameters()

    # -- hooks --------------------------------------------------------------------
    # These run at every step, most of them steps where nothing changes: each costs a few
    # comparisons (docs/runtime.md, "Cost per step").
    def _before_step(self, optimizer: Any, args: Any, kwargs: Any) -> None:
        k = self._state.step
        epoch = epoch_at(k, self.plan.steps_per_epoch)
        with torch.no_grad():
            for instruction, handler in self._handlers:
                if instruction["step"] > k:
                    break
                handler(instruction, k, epoch)
            masks = self._state.masks
            if not masks.keys() <= self._masked_grads:
                for name, mask in masks.items():
                    # Gradients backward did not see: set by hand, or (held masks) renewed this step.
                    # A gradient backward masked with the mask then in force is left as it is, as
                    # SparseML's gradient hook left it, even when this step's update changed the mask.
                    param = self._params[name]
                    if param.grad is not None and name not in self._masked_grads:
                        param.grad.mul_(mask)

    def _after_step(self, optimizer: Any, args: Any, kwargs: Any) -> None:
        if not self._state.masks.keys() <= self._held_by_state:
            with torch.no_grad():
                self._apply_masks(skip=self._held_by_state)
        self._masked_grads.clear()
        self._state.step += 1

    def _mask_grad(self, param: torch.Tensor) -> None:
        # Runs 1x per pruned tensor per step: no torch.no_grad() wrapper (a gradient from a
        # plain backward does not require grad, so the multiply records nothing anyway).
        name = self._name_of[id(param)]
        mask = self._state.masks.get(name)
        if param.grad is not None:
            if mask is not None:
                param.grad.mul_(mask)
            self._masked_grads.add(name)  # as backward left it: masked by the mask in force, if any

    def step_skipped(self) -> None:
        """Count an iteration whose ``optimizer.step()`` was skipped (an AMP overflow, a NaN loss guard).

        The schedule follows iterations, as SparseML's step wrapper did: step k's instructions
        (LR, weight decay, mask updates) run and the step index advances, so epochs stay in line
        with the data loader. The weights were not updated, so only the masks are re-applied.
        """
        self._before_step(self.optimizer, (), {})
        self._after_step(self.optimizer, (), {})

    def _wrap_scaler(self, scaler: Any) -> None:
        """Make ``scaler.step(optimizer)`` report the steps it skips on inf/NaN gradients."""
        original = scaler.step

        def step(optimizer: Any, *args: Any, **kwargs: Any) -> Any:
            before = self._state.step
            result = original(optimizer, *args, **kwargs)
            if optimizer is self.optimizer and self._hooks and self._state.step == before:
                self.step_skipped()  # the scaler found inf/NaN gradients and did not call optimizer.step()
            return result

        object.__setattr__(scaler, "step", step)
        self._scaler_restore = (scaler, original)

    def _apply_masks(self, skip: set[str] | frozenset[str] = frozenset()) -> None:
        for name, mask in self._state.masks.items():
            if name not in skip:
                self._params[name].data.mul_(mask)

    def _set_mask(self, name: str, mask: torch.Tensor) -> None:
        """Enable a new keep-mask: the weight is masked now, and the optimizer state if it holds the zeros."""
        old = self._state.masks.get(name)
        self._state.masks[name] = mask
        param = self._params[name]
        param.data.mul_(mask)
        if name in self._held_by_state:
            # The fast path: this step's gradient and the optimizer's state are masked with the new
            # mask, so the pruned weights stay zero with no pass after the step.
            self._masked_grads.discard(name)
            if old is not None and bool((mask > old).any()):
                self._warn_revived(name)
            for value in self.optimizer.state.get(param, {}).values():
                if isinstance(value, torch.Tensor) and value.shape == mask.shape:
                    value.mul_(mask)

    def _warn_revived(self, name: str) -> None:
        if name not in self._warned_revived:
            self._warned_revived.add(name)
            warnings.warn(
                f"{name}: a mask update kept weights that were pruned (more tied zeros than the target prunes); "
                "SparseML would restart them with the optimizer state it left there, which this runtime cleared. "
                "Weights from here on may differ from SparseML's in their last bits",
                RuntimeWarning,
                stacklevel=2,
            )

    # -- instructions ---------------------------------------------------------------
    def _groups(self, selected: list[int] | None) -> list[dict[str, Any]]:
        groups = self.optimizer.param_groups
        return groups if selected is None else [groups[i] for i in selected]

    # What each instruction changes at step k is said once, in recipekit.plan.ops (expand reads
    # the same functions); the handlers below only carry it out on the optimizer and the model.
    def _note(self, instruction: NoteOp, k: int, epoch: float) -> None:
        """Recorded for readers of the plan; nothing to do."""

    def _lr(self, instruction: SetLrOp | LrFunctionOp | LrSchedulerOp, k: int, epoch: float) -> None:
        value = ops.lr_at(instruction, k, epoch, self.plan.steps_per_epoch)
        if value is not None:
            for group in self._groups(ops.lr_groups(instruction)):
                group["lr"] = value

    _set_lr = _lr_function = _lr_scheduler = _lr

    def _set_weight_decay(self, instruction: SetWeightDecayOp, k: int, epoch: float) -> None:
        value = ops.weight_decay_at(instruction, k)
        if value is not None:
            for group in self._groups(instruction["param_groups"]):
                group["weight_decay"] = value

    def _set_trainable(self, instruction: SetTrainableOp, k: int, epoch: float) -> None:
        for change in ops.trainable_at(instruction, k):
            names = self._selected[instruction["selector"]]
            if change == "set":
                for name in names:
                    param = self._params[name]
                    self._state.trainable_restore.setdefault(name, param.requires_grad)
                    param.requires_grad_(instruction["trainable"])
                    if not instruction["trainable"]:
                        param.grad = None
            else:
                for name in names:
                    self._params[name].requires_grad_(self._state.trainable_restore.pop(name, True))

    def _qat(self, instruction: QatOp, k: int, epoch: float) -> None:
        quantization = self._quantization
        assert quantization is not None
        events = ops.qat_at(instruction, k)
        if events.enable:
            quantization.enable()
        if events.disable_observers:
            quantization.disable_observers()
        if events.freeze_bn:
            quantization.freeze_bn()

    def _hold_mask(self, instruction: HoldMaskOp, k: int, epoch: float) -> None:
        for change in ops.hold_at(instruction, k):
            names = self._selected[instruction["selector"]]
            if change == "hold":
                for name in names:
                    param = self._params[name]
                    self._set_mask(name, (param.detach() != 0).to(param.dtype))
            else:
                for name in names:
                    self._state.masks.pop(name, None)

    def _prune(self, instruction: PruneOp, k: int, epoch: float) -> None:
        prune = self._prune_of[id(instruction)]
        if ops.prune_update_due(instruction, k):
            self._update_masks(prune, epoch)
        if ops.prune_releases_at(instruction, k) and not prune.done:
            prune.done = True
            self._apply_masks()
            for name in prune.names:
                self._state.masks.pop(name, None)

    def _update_masks(self, prune: _Prune, epoch: float) -> None:
        instruction = prune.instruction
        init = instruction["init_sparsity"]
        targets: dict[str, float] = {}
        for name in prune.names:
            start_value = _sparsity(self._params[name]) if init == "__FROM_PARAM__" else float(init)
            targets[name] = ops.prune_target(instruction, epoch, start_value, prune.finals[name])
        # One call for all of the modifier's tensors, as SparseML's mask creator (a [1, -1] block
        # takes its width from the first tensor); global sparsity with differing targets (from
        # __FROM_PARAM__), which SparseML refused mid-training, goes by target.
        groups = [prune.names]
        if instruction["global_sparsity"] and len(set(targets.values())) > 1:
            by_target: dict[float, list[str]] = {}
            for name, target in targets.items():
                by_target.setdefault(target, []).append(name)
            groups = list(by_target.values())
        for names in groups:
            tensors = [
                self._params[n].detach() * self._state.masks[n] if n in self._state.masks else self._params[n].detach() for n in names
            ]
            created = masks.create(tensors, [targets[n] for n in names], instruction["mask_type"], instruction["global_sparsity"])
            for name, keep in zip(names, created, strict=True):
                self._set_mask(name, keep.to(self._params[name].dtype))

    # -- lifecycle ------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume: step, masks, what to restore, and the plan's hash."""
        return {
            "plan_sha256": self.plan.sha256,
            "step": self._state.step,
            "masks": self.masks(),
            "trainable_restore": dict(self._state.trainable_restore),
            "released": [i for i, p in enumerate(self._prunes) if p.done],
            "qat": None if self._quantization is None else self._quantization.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("plan_sha256") != self.plan.sha256:
            raise RuntimeRefusal("this runner state was saved with a different plan; resume with the plan it was made for")
        unknown = [name for name in state["masks"] if name not in self._params]
        if unknown:
            raise RuntimeRefusal(f"saved masks name parameters this model does not have: {unknown[:3]}")
        if self._quantization is not None and state.get("qat") is not None:
            try:
                self._quantization.check_state_dict(state["qat"])
            except QatConfigError as error:
                raise RuntimeRefusal(str(error)) from None
        saved_masks = {n: m.to(self._params[n].device, self._params[n].dtype) for n, m in state["masks"].items()}
        self._state = _State(int(state["step"]), saved_masks, dict(state["trainable_restore"]))
        for index in state.get("released", []):
            self._prunes[index].done = True
        with torch.no_grad():
            self._apply_masks()  # the saved weights were masked; this only guards against edits made since
        if self._quantization is not None and state.get("qat") is not None:
            self._quantization.load_state_dict(state["qat"])

    def finalize(self) -> None:
        """End of training: masks applied a last time, observers off, hooks removed, trainable flags restored.

        Pruned weights stay exactly zero. Quantized modules keep simulating quantization with
        their final scales and zero points (see :meth:`quantization_params`); ``detach()`` removes that too.
        """
        with torch.no_grad():
            self._apply_masks()
        if self._quantization is not None and self._quantization.enabled:
            never = self._quantization.never_observed()
            if never:
                warnings.warn(
                    f"{len(never)} fake-quantizers never observed a batch and quantize with scale 1.0 and zero point 0 "
                    f"(as SparseML's did): {never[:8]}{' ...' if len(never) > 8 else ''}",
                    RuntimeWarning,
                    stacklevel=2,
                )
            self._quantization.disable_observers(every=True)
        self._release()

    def detach(self) -> None:
        """Remove the hooks and restore anything the plan changed temporarily (trainable flags, QAT forwards)."""
        self._release()
        if self._quantization is not None:
            self._quantization.remove()

    def _release(self) -> None:
        for hook in self._hooks:
            hook.remove()
        self._hooks = []
        if self._scaler_restore is not None:
            scaler, _ = self._scaler_restore
            if "step" in vars(scaler):
                del scaler.step
            self._scaler_restore = None
        for name, flag in self._state.trainable_restore.items():
            self._params[name].requires_grad_(flag)
        self._state.trainable_restore.clear()


def _may_loosen(plan: Plan, selected: dict[str, list[str]]) -> set[str]:
    """Parameters whose mask can give back pruned weights: two mask instructions, or a target that goes down."""
    seen: set[str] = set()
    loosen: set[str] = set()
    for instruction in plan.instructions:
        if instruction["op"] not in ("prune", "hold_mask"):
            continue
        names = selected[instruction["selector"]]
        loosen |= seen & set(names)
        seen |= set(names)
        if instruction["op"] == "prune":
            init, final = instruction["init_sparsity"], instruction["final_sparsity"]
            finals = [float(f) for f in final] if isinstance(final, dict) else [float(final)]
            if init == "__FROM_PARAM__" or any(f < float(init) for f in finals):
                loosen |= set(names)
    return loosen


def _sparsity(param: torch.Tensor) -> float:
    return float((param == 0).sum().item()) / param.numel()


def _manifest(model: torch.nn.Module) -> list[dict[str, Any]]:
    entries = []
    for module_name, module in model.named_modules():
        for param_name, param in module.named_parameters(recurse=False):
            name = f"{module_name}.{param_name}" if module_name else param_name
            module_type = type(module).__name__
            if isinstance(module, PRUNABLE_TYPES) and module_type not in param_match.PRUNABLE_MODULE_TYPES:
                # A subclass (say NonDynamicallyQuantizableLinear) is prunable like its base.
                module_type = next(base.__name__ for base in type(module).__mro__ if base.__name__ in param_match.PRUNABLE_MODULE_TYPES)
            entries.append({"name": name, "shape": list(param.shape), "module_type": module_type})
    return entries


def attach(
    plan: Plan | str | os.PathLike[str], model: torch.nn.Module, optimizer: torch.optim.Optimizer, *, scaler: Any = None
) -> PlanRunner:
    """Check the plan against the model and optimizer, then hook into ``optimizer.step()``.

    Pass the AMP ``torch.amp.GradScaler`` as ``scaler`` when there is one: a step it skips on
    inf/NaN gradients still advances the schedule (see :meth:`PlanRunner.step_skipped`).
    Raises :class:`RuntimeRefusal` (or :class:`~recipekit.plan.PlanError` for an
    invalid plan file) before changing anything.
    """
    if not isinstance(plan, Plan):
        plan = load_plan(plan)
    return PlanRunner(plan, model, optimizer, scaler)
