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
from recipekit.plan.manifest import from_module
from recipekit.plan.model import Plan, load_plan
from recipekit.plan.not_executed import skipped_notes
from recipekit.plan.ops import (
    AcdcOp,
    DistillOp,
    HoldMaskOp,
    Instruction,
    LrFunctionOp,
    LrSchedulerOp,
    NoteOp,
    PruneOp,
    QatOp,
    ReplaceModulesOp,
    SetLrOp,
    SetTrainableOp,
    SetWeightDecayOp,
)
from recipekit.plan.schedule import epoch_at
from recipekit.runtime import checkpoint, layers, masks, misuse, scorers, sharded
from recipekit.runtime.algorithms import distill
from recipekit.runtime.algorithms.sampling import GradSampler
from recipekit.runtime.qat import QatConfigError, Quantization, plan_quantization

#: Instructions this runtime executes (every op of recipekit.plan.ops); a plan with others is refused at attach.
SUPPORTED = frozenset(ops.OPS)


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
    #: Each mask instruction's own keep-mask (by plan index) on a parameter that two or more of them
    #: select; ``masks`` then holds their product (SparseML kept one mask per modifier: see _set_mask).
    owned: dict[str, dict[int, torch.Tensor]] = field(default_factory=dict)


class PlanRunner:
    def __init__(
        self,
        plan: Plan,
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer,
        scaler: Any = None,
        grad_sampler: GradSampler | None = None,
        teacher: Any = None,
        strict: bool = False,
        exact_optimizer_state: bool = False,
        hook_before_step: bool = True,
    ) -> None:
        self.plan = plan
        self.model = model
        self.optimizer = optimizer = misuse.unwrap_optimizer(optimizer, RuntimeRefusal)
        self._params = dict(model.named_parameters())
        #: Parameters FSDP2 shards (DTensors): their masks are local shards (recipekit.runtime.sharded).
        self._sharded = sharded.names(self._params)
        self._manifest = from_module(model)  # the same builder as `recipekit params`
        skipped = skipped_notes(plan.instructions)
        if strict and skipped:
            instruction, reason = skipped[0]
            raise RuntimeRefusal(f"{_where(instruction)}: strict: the runtime does not execute this modifier: {reason}")
        misuse.check_qat_names(plan.instructions, model, RuntimeRefusal)
        self._selected = self._resolve_all()
        self._removals = self._resolve_removals()
        self._check_groups()
        self._distillation = self._check_distill(teacher)
        self._teacher = teacher
        self._distilled_at: int | None = None
        self._skipped_distillation = 0  # window steps trained without the teacher (warned once, counted at finalize)
        misuse.check_optimizer_holds(optimizer, self._params, self._touched(), RuntimeRefusal)
        # Watches the LR only when the plan sets it: reports once a competing scheduler.
        self._lr_watch = misuse.LrWatch() if any(i["op"] in ("set_lr", "lr_function", "lr_scheduler") for i in plan.instructions) else None
        self._check_mask_shapes()
        self._check_sharded_support()
        self._state = _State()
        self._prunes = [_Prune(i, self._selected[i["selector"]], self._finals(i)) for i in plan.instructions if i["op"] == "prune"]
        self._prune_of = {id(p.instruction): p for p in self._prunes}
        self._scorers = self._make_scorers(grad_sampler)
        self._quantization = self._plan_quantization()
        # Each instruction with its handler (`_prune` for op "prune", ...), in plan (step) order; the
        # mask instructions apart, in the manager's order: SparseML updated every modifier's mask in
        # that order within a step, and a mask made later sees the weights the earlier ones zeroed.
        self._handlers = [(i, getattr(self, "_" + i["op"])) for i in plan.instructions if _mask_selector(i) is None]
        self._mask_handlers = sorted(
            ((i, getattr(self, "_" + i["op"])) for i in plan.instructions if _mask_selector(i) is not None),
            key=lambda pair: pair[0]["origin"]["order"],
        )
        #: Plan index of each mask instruction: the key of its own masks in ``_State.owned``.
        self._index = {id(i): index for index, i in enumerate(plan.instructions)}
        #: Parameters two or more mask instructions select (the overlapping-pruners lint rule warns of them).
        self._shared = _shared_names(plan, self._selected)
        #: The step whose instructions already ran (by :meth:`before_step` or the pre-hook), so they run once.
        self._prepared = -1
        self._hooks: list[Any] = [optimizer.register_step_post_hook(self._after_step)]
        if hook_before_step:
            self._hooks.append(optimizer.register_step_pre_hook(self._before_step))
        # Gradients of pruned weights are masked as backward accumulates them, as SparseML's
        # gradient hooks did: gradient clipping and DDP's all-reduce then see masked gradients.
        maskable = {n for i in plan.instructions if (selector := _mask_selector(i)) for n in self._selected[selector]}
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
        # Movement scores can rank a pruned weight back in (SparseML's frozen scores): its stale
        # momentum then moves it, so those masks are not "never released" either.
        self._revivable = {n for p in self._prunes if p.instruction["score"]["kind"] == "movement" for n in p.names}
        # AC/DC's decompressed phases release every mask to ones: the stale momentum SparseML left
        # at pruned weights then moves them (the reference's "3.9 % still zero after the first D step").
        self._revivable |= {n for i in plan.instructions if i["op"] == "acdc" for n in self._selected[i["selector"]]}
        self._acdc_released: set[int] = set()
        self._momentum_reset = False
        loosened = _may_loosen(plan, self._selected) | self._revivable
        fast = type(optimizer) in ZERO_PRESERVING and not exact_optimizer_state
        self._held_by_state = maskable - released - loosened if fast else set()
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
        for instruction, reason in skipped:
            misuse.warn(f"{_where(instruction)} is recorded in the plan but not executed: {reason}")
        for replace, removal in self._removals:
            # SparseML swapped at initialize when start_epoch <= 0: before the first forward.
            self._swap_modules(replace, removal, 0)

    # -- checks (all before anything is changed) ---------------------------------
    def _resolve_all(self) -> dict[str, list[str]]:
        unsupported = [i for i in self.plan.instructions if i["op"] not in SUPPORTED]
        if unsupported:
            first = unsupported[0]
            raise RuntimeRefusal(f"{_where(first)}: this runtime does not execute {first['op']!r} instructions yet")
        resolved: dict[str, list[str]] = {}
        for selector in self.plan.selectors:
            names, unmatched = self._resolve(selector["patterns"])
            if unmatched or not names:
                where = f"{selector.get('path')}:{selector.get('line')}:{selector.get('column')}"
                hint = misuse.prefix_hint(selector["patterns"], list(self._params))
                if unmatched and not hint:
                    # The closest names, or a known prefix that would match: worded as recipe-lint's L320 and `expand`.
                    hint = param_match.unmatched_hint(unmatched[0], list(self._params))
                raise RuntimeRefusal(
                    f"{where}: {unmatched[0] if unmatched else selector['patterns']!r} matches no parameter of the model{hint}"
                )
            resolved[selector["id"]] = names
        return resolved

    def _resolve(self, patterns: list[str]) -> tuple[list[str], list[str]]:
        """Names as written; else as written for the model without (or with) a wrapper's prefix.

        A recipe names the bare model's parameters; DDP (`module.`), a LightningModule (`model.`)
        and torch.compile (`_orig_mod.`) prefix them, and a recipe may carry a prefix the model lacks.
        """
        names, unmatched = param_match.resolve(patterns, self._manifest)
        if unmatched:
            for variant in misuse.prefix_variants(patterns, list(self._params)):
                variant_names, variant_unmatched = param_match.resolve(variant, self._manifest)
                if not variant_unmatched and variant_names:
                    return variant_names, []
        return names, unmatched

    def _resolve_removals(self) -> list[tuple[ReplaceModulesOp, layers.Removed]]:
        """The modules each ``replace_modules`` takes out, checked; selections SparseML resolved without them, narrowed.

        SparseML initialised modifiers in manager order, so one ordered after a layer pruning that
        swapped at initialize never saw the removed layers' parameters (and raised when it matched
        nothing else); one ordered before it kept them and pruned weights no forward used.
        """
        removals = []
        for instruction in self.plan.instructions:
            if instruction["op"] != "replace_modules":
                continue
            if "__ALL__" in instruction["modules"]:
                raise RuntimeRefusal(f"{_where(instruction)}: layers __ALL__ selects the model itself; SparseML raised AttributeError")
            names, missing = layers.resolve(self.model, instruction["modules"])
            if missing:
                raise RuntimeRefusal(f"{_where(instruction)}: layers: {missing[0]!r} is not a module of the model (SparseML raised here)")
            removals.append((instruction, layers.Removed(names)))
            prefixes = tuple(name + "." for name in names)
            inside: list[str] = []
            for other in self.plan.instructions:
                selector = cast("str | None", other.get("selector"))
                if selector is None:
                    continue
                chosen = self._selected[selector]
                kept = [n for n in chosen if not n.startswith(prefixes)]
                if len(kept) == len(chosen):
                    continue
                if instruction["step"] == 0 and other["origin"]["order"] > instruction["origin"]["order"]:
                    if not kept:
                        raise RuntimeRefusal(
                            f"{_where(other)}: every parameter it selects is inside layers {_where(instruction)} removes before "
                            "training; SparseML raised ValueError (no params matching) here"
                        )
                    self._selected[selector] = kept
                else:
                    inside += [n for n in chosen if n.startswith(prefixes)]
            if inside:
                misuse.warn(
                    f"{_where(instruction)} removes layers holding {len(inside)} parameters other modifiers act on "
                    f"({inside[:3]}{' ...' if len(inside) > 3 else ''}): they are changed though no forward uses them, as in SparseML"
                )
        return removals

    def _swap_modules(self, instruction: ReplaceModulesOp, removal: layers.Removed, k: int) -> None:
        for event in ops.modules_at(instruction, k):
            if event == "replace":
                removal.remove(self.model)
            else:
                removal.restore(self.model)

    def _touched(self) -> list[str]:
        """Parameters the plan changes through the optimizer: pruned, held, or unfrozen."""
        touched: dict[str, None] = {}
        for i in self.plan.instructions:
            selector = _mask_selector(i)
            if selector is None and i["op"] == "set_trainable" and i["trainable"]:
                selector = i["selector"]
            if selector is not None:
                touched.update(dict.fromkeys(self._selected[selector]))
        return list(touched)

    def _check_groups(self) -> None:
        count = len(self.optimizer.param_groups)
        for instruction in self.plan.instructions:
            groups = cast("list[int] | None", instruction.get("param_groups"))
            if groups and max(groups) >= count:
                raise RuntimeRefusal(f"{_where(instruction)}: param group {max(groups)} does not exist (the optimizer has {count})")

    def _check_distill(self, teacher: Any) -> DistillOp | None:
        instructions = [i for i in self.plan.instructions if i["op"] == "distill"]
        if not instructions:
            return None
        if len(instructions) > 1:
            raise RuntimeRefusal(
                f"{_where(instructions[1])}: the runtime distills from one DistillationModifier; this plan has {len(instructions)}"
            )
        if isinstance(teacher, str) and teacher == "disable":
            # SparseML's `distillation_teacher="disable"`: asked for by name, so not a silent skip.
            return None
        if teacher is None or not callable(teacher):
            raise RuntimeRefusal(
                f"{_where(instructions[0])}: this plan distills from a teacher: pass attach(..., teacher=teacher_model) "
                "and turn each loss into the distillation loss with runner.distillation_loss(...) before backward (docs/runtime.md); "
                'teacher="disable" trains without distillation, as SparseML\'s distillation_teacher="disable" did'
            )
        return instructions[0]

    def _check_sharded_support(self) -> None:
        """What FSDP2-sharded parameters cannot run yet: refused before anything changes, never run wrong."""
        if not self._sharded:
            return
        for instruction in self.plan.instructions:
            if instruction["op"] == "acdc" and self._sharded.intersection(self._selected[instruction["selector"]]):
                raise RuntimeRefusal(
                    f"{_where(instruction)}: AC/DC on FSDP2-sharded parameters is not supported yet (only magnitude "
                    "pruning is): train this recipe without fully_shard, or with DistributedDataParallel"
                )
            if instruction["op"] == "replace_modules":
                raise RuntimeRefusal(
                    f"{_where(instruction)}: LayerPruning swaps modules, which FSDP2 has already wrapped: train this "
                    "recipe without fully_shard, or with DistributedDataParallel"
                )

    def _make_scorers(self, grad_sampler: GradSampler | None) -> dict[int, scorers.Scorer]:
        made: dict[int, scorers.Scorer] = {}
        for prune in self._prunes:
            instruction = prune.instruction
            kind = instruction["score"]["kind"]
            if kind == "magnitude":
                continue
            if self._sharded.intersection(prune.names):
                raise RuntimeRefusal(
                    f"{_where(instruction)}: {kind} pruning of FSDP2-sharded parameters is not supported yet (only magnitude "
                    "pruning is): train this recipe without fully_shard, or with DistributedDataParallel"
                )
            if kind == "group_l2":
                groups = instruction["score"]["param_groups"]
                flat = [name for group in groups for name in group]
                stray = [name for name in flat if name not in prune.names]
                if stray or len(flat) != len(set(flat)):
                    problem = f"{stray[0]!r} is not among the pruned parameters" if stray else "a parameter repeats"
                    raise RuntimeRefusal(f"{_where(instruction)}: param_groups: {problem} (SparseML raised ValueError here)")
                made[id(instruction)] = scorers.GroupL2(instruction, prune.names, self._params)
            elif kind == "movement":
                made[id(instruction)] = scorers.Movement(instruction, prune.names, self._params)
            elif kind == "obs":
                if grad_sampler is None:
                    raise RuntimeRefusal(
                        f"{_where(instruction)}: OBS pruning scores weights with sampled gradients: pass "
                        "attach(..., grad_sampler=GradSampler(data, loss)) (docs/runtime.md, 'Gradient samples')"
                    )
                if isinstance(grad_sampler, dict):
                    grad_sampler = GradSampler.from_sparseml(grad_sampler)
                source = grad_sampler.open(instruction["score"]["grad_sampler_kwargs"])
                made[id(instruction)] = scorers.OBS(instruction, prune.names, self._params, self.model, source)
            elif kind == "mfac":
                if isinstance(grad_sampler, dict):
                    grad_sampler = GradSampler.from_sparseml(grad_sampler)
                made[id(instruction)] = self._mfac(prune, grad_sampler)
            else:
                raise RuntimeRefusal(f"{_where(instruction)}: this runtime does not execute {kind!r} pruning yet")
        return made

    def _mfac(self, prune: _Prune, grad_sampler: GradSampler | None) -> scorers.MFAC:
        """M-FAC's gradient source, as SparseML chose it at initialize; what would fail, refused now."""
        instruction = prune.instruction
        score = instruction["score"]
        buffering = score.get("use_gradient_buffering")
        if instruction["mask_type"] not in ("unstructured", "block4"):
            raise RuntimeRefusal(
                f"{_where(instruction)}: M-FAC with mask_type {instruction['mask_type']!r}: this runtime masks M-FAC scores "
                "unstructured or block4 only"
            )
        if grad_sampler is None and buffering is False:
            raise RuntimeRefusal(
                f"{_where(instruction)}: use_gradient_buffering is false, so M-FAC needs attach(..., grad_sampler=...) "
                "(SparseML raised RuntimeError at initialize)"
            )
        if grad_sampler is not None and buffering is not True:
            return scorers.MFAC(instruction, prune.names, self._params, self.model, grad_sampler.open(score.get("grad_sampler_kwargs")))
        num_grads = score["num_grads"]
        short = ops.buffered_gradients_short(instruction["updates"], num_grads) if isinstance(num_grads, int) else None
        if short is not None:
            raise RuntimeRefusal(
                f"{_where(instruction)}: without a grad sampler M-FAC buffers one training gradient per step, and its update "
                f"at step {short[0]} would have {short[1]} of num_grads {num_grads} (SparseML raised RuntimeError there): "
                "pass attach(..., grad_sampler=GradSampler(data, loss)), start later, or lower num_grads"
            )
        return scorers.MFAC(instruction, prune.names, self._params, self.model, None)

    def _check_mask_shapes(self) -> None:
        """A mask SparseML could not make for these tensors (it raised mid-training, or made an unusable one)."""
        for instruction in self.plan.instructions:
            if instruction["op"] in ("prune", "acdc"):
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
        self._check_folded_batchnorm(planned)
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

    def _check_folded_batchnorm(self, planned: list[Any]) -> None:
        """A pruned BatchNorm weight that QAT folds into its Conv2d: the fold divides by it (0/0, NaN outputs)."""
        folded = {id(q.bn.weight): q.name for q in planned if q.bn is not None and q.bn.weight is not None}
        for instruction in self.plan.instructions:
            if instruction["op"] != "prune":
                continue
            hit = [name for name in self._selected[instruction["selector"]] if id(self._params[name]) in folded]
            if hit:
                conv = folded[id(self._params[hit[0]])]
                raise RuntimeRefusal(
                    f"{_where(instruction)}: prunes the BatchNorm weight {hit[0]!r}, which QAT folds into {conv!r}: the fold divides "
                    f"by it, so each pruned channel's output would be NaN (0/0) once QAT starts. Select the convolution weights "
                    f"only (e.g. {conv}.weight instead of a pattern such as re:...weight); recipe-lint --params reports it as L379"
                )

    def _state_mask(self, name: str) -> torch.Tensor | None:
        mask = self._state.masks.get(name)
        # Under FSDP2 the forward sees the gathered weight and the mask is a shard: the weight is
        # already exactly zero where pruned and its gradient is masked after reduce-scatter.
        return None if mask is not None and name in self._sharded else mask

    def _finals(self, instruction: PruneOp) -> dict[str, float]:
        final = instruction["final_sparsity"]
        names = self._selected[instruction["selector"]]
        if not isinstance(final, dict):
            return dict.fromkeys(names, float(final))
        finals: dict[str, float] = {}
        for sparsity, patterns in final.items():
            for name in self._resolve(patterns)[0]:
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

    @property
    def quantization(self) -> Quantization | None:
        """The QAT simulation (quantized modules, their fake-quantizers and folded BatchNorms); None without QAT.

        Read by ``recipekit.export`` to write the same quantization into an ONNX graph.
        """
        return self._quantization

    def quantization_params(self) -> dict[str, dict[str, dict[str, torch.Tensor]]]:
        """``{module: {"weight"|"input"|"output": {"scale", "zero_point"}}}`` of every observed fake-quantizer."""
        return {} if self._quantization is None else self._quantization.parameters()

    # -- hooks --------------------------------------------------------------------
    # These run at every step, most of them steps where nothing changes: each costs a few
    # comparisons (docs/runtime.md, "Cost per step").
    def before_step(self) -> None:
        """Run the coming step's instructions now (LR, weight decay, masks, QAT), once per step.

        For trainers where the optimizer's step pre-hook fires at the wrong time: Lightning's
        ``optimizer.step(closure)`` runs forward and backward inside ``step``, after the pre-hook.
        Attach with ``hook_before_step=False`` and call this after backward, before the update.
        """
        self._before_step(self.optimizer, (), {})

    def _before_step(self, optimizer: Any, args: Any, kwargs: Any) -> None:
        k = self._state.step
        if self._prepared == k:
            return
        self._prepared = k
        epoch = epoch_at(k, self.plan.steps_per_epoch)
        watch = self._lr_watch
        if watch is not None:
            watch.check(self.optimizer.param_groups, k)
        for scorer in self._scorers.values():
            scorer.every_step()
        if self._distillation is not None and self._distilled_at != k and ops.distill_active_at(self._distillation, k):
            self._skipped_distillation += 1
            if self._skipped_distillation == 1:
                warnings.warn(
                    f"{_where(self._distillation)}: step {k} is inside the distillation window but the loss was not passed through "
                    "runner.distillation_loss(...): this step trained without the teacher (further such steps are counted "
                    "and reported once at finalize)",
                    DistillationSkipped,
                    stacklevel=2,
                )
        with torch.no_grad():
            for instruction, handler in self._handlers:
                if instruction["step"] > k:
                    break
                handler(instruction, k, epoch)
            for instruction, handler in self._mask_handlers:
                if instruction["step"] <= k:
                    handler(instruction, k, epoch)
            if watch is not None:
                watch.remember(self.optimizer.param_groups)
            masks = self._state.masks
            if not masks.keys() <= self._masked_grads:
                for name, mask in masks.items():
                    # Gradients backward did not see: set by hand, or (held masks) renewed this step.
                    # A gradient backward masked with the mask then in force is left as it is, as
                    # SparseML's gradient hook left it, even when this step's update changed the mask.
                    param = self._params[name]
                    # Not for revivable masks: SparseML masked gradients only in backward, and a
                    # revived weight moves by the momentum this leaves (bitwise, tests/test_algorithms.py).
                    if param.grad is not None and name not in self._masked_grads and name not in self._revivable:
                        sharded.local(param.grad).mul_(mask)

    def _after_step(self, optimizer: Any, args: Any, kwargs: Any) -> None:
        if not self._state.masks.keys() <= self._held_by_state:
            with torch.no_grad():
                self._apply_masks(skip=self._held_by_state)
        if self._momentum_reset:
            self._momentum_reset = False
            _reset_momentum(self.optimizer)
        self._masked_grads.clear()
        self._state.step += 1

    def _mask_grad(self, param: torch.Tensor) -> None:
        # Runs 1x per pruned tensor per step: no torch.no_grad() wrapper (a gradient from a
        # plain backward does not require grad, so the multiply records nothing anyway).
        name = self._name_of[id(param)]
        mask = self._state.masks.get(name)
        if param.grad is not None:
            if mask is not None:
                sharded.local(param.grad).mul_(mask)
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
                sharded.local(self._params[name].data).mul_(mask)

    def _set_mask(self, name: str, mask: torch.Tensor, owner: Instruction) -> None:
        """Enable ``owner``'s new keep-mask: the weight is masked now, and the optimizer state if it holds the zeros.

        Two or more mask instructions on one parameter run as SparseML ran them (its
        ModuleParamPruningMask, one per modifier): each keeps its own mask, made when its own
        schedule says, from the weights as they are then (already zeroed by every mask applied
        so far, the masks updated earlier in this step's manager order included), and each
        masks the gradient in backward and the weight after the step. The masks are 0/1, so
        applying them one after the other is applying their product: the zeros are the union
        of the enabled masks' zeros, and the weight's zeros stay a superset of it between steps.
        """
        if name in self._shared:
            own = self._state.owned.setdefault(name, {})
            own[self._index[id(owner)]] = mask
            mask = _product(own)
        old = self._state.masks.get(name)
        self._state.masks[name] = mask
        param = self._params[name]
        sharded.local(param.data).mul_(mask)
        if name in self._held_by_state:
            # The fast path: this step's gradient and the optimizer's state are masked with the new
            # mask, so the pruned weights stay zero with no pass after the step.
            self._masked_grads.discard(name)
            if old is not None and bool((mask > old).any()):
                self._warn_revived(name)
            for value in self.optimizer.state.get(param, {}).values():
                if isinstance(value, torch.Tensor) and value.shape == param.shape:
                    sharded.local(value).mul_(mask)

    def _drop_mask(self, name: str, owner: Instruction) -> None:
        """``owner`` lets go of ``name``: the other instructions' masks on it, if any, stay in force."""
        own = self._state.owned.get(name)
        if own is not None:
            own.pop(self._index[id(owner)], None)
            if own:
                self._state.masks[name] = _product(own)
                return
            del self._state.owned[name]
        self._state.masks.pop(name, None)

    def _own_mask(self, name: str, owner: Instruction) -> torch.Tensor | None:
        """``owner``'s own mask on ``name`` (what SparseML's scorers were given), None before its first update."""
        own = self._state.owned.get(name)
        if name in self._shared:
            return None if own is None else own.get(self._index[id(owner)])
        return self._state.masks.get(name)

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
            selected = ops.lr_groups(instruction)
            for group in self._groups(selected):
                group["lr"] = value
            if self._lr_watch is not None:
                self._lr_watch.written.update(
                    dict.fromkeys(range(len(self.optimizer.param_groups)) if selected is None else selected, value)
                )

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

    def _acdc(self, instruction: AcdcOp, k: int, epoch: float) -> None:
        target, reset = ops.acdc_at(instruction, k)
        names = self._selected[instruction["selector"]]
        if target is not None:
            # SparseML's magnitude scorer: |w| of the weights as they are (masked after the last step).
            created = masks.create(
                [self._params[n].detach() for n in names], target, instruction["mask_type"], instruction["global_sparsity"]
            )
            for name, keep in zip(names, created, strict=True):
                self._set_mask(name, keep.to(self._params[name].dtype), instruction)
            # After this step's optimizer update, as SparseML's optimizer_post_step did.
            self._momentum_reset |= reset
        index = next(i for i, other in enumerate(self.plan.instructions) if other is instruction)
        if ops.acdc_releases_at(instruction, k) and index not in self._acdc_released:
            self._acdc_released.add(index)
            self._apply_masks()
            for name in names:
                self._drop_mask(name, instruction)

    def _replace_modules(self, instruction: ReplaceModulesOp, k: int, epoch: float) -> None:
        if k > 0:  # step 0's swap happened at attach
            removal = next(r for i, r in self._removals if i is instruction)
            self._swap_modules(instruction, removal, k)

    def _distill(self, instruction: DistillOp, k: int, epoch: float) -> None:
        """Acts through :meth:`distillation_loss`, which the loop calls before backward."""

    def distillation_loss(self, loss: torch.Tensor, student_outputs: Any, student_inputs: Any, teacher_inputs: Any = None) -> Any:
        """SparseML's distillation loss for the coming optimizer step, or ``loss`` unchanged outside the window.

        Call it between the forward pass and ``backward()``: inside the DistillationModifier's window
        (start to end, the step at ``end_epoch`` included) it runs the teacher in eval mode without
        gradients on ``teacher_inputs`` (default: ``student_inputs``, or their ``teacher_input_keys``)
        and returns ``(1 - hardness) * loss + hardness * KL``.
        """
        instruction = self._distillation
        k = self._state.step
        if instruction is None or not ops.distill_active_at(instruction, k):
            return loss
        self._distilled_at = k
        if student_outputs is None or student_inputs is None:
            raise ValueError("distillation_loss needs the student's outputs and inputs")
        if teacher_inputs is None:
            keys = instruction["teacher_input_keys"]
            teacher_inputs = student_inputs if not keys else {key: student_inputs[key] for key in keys}
        keys = instruction["distill_output_keys"]
        if not keys:
            try:
                keys = distill.default_output_keys(student_outputs)
            except ValueError as error:
                raise RuntimeRefusal(f"{_where(instruction)}: {error}") from None
        teacher_outputs = distill.run_teacher(self._teacher, teacher_inputs)
        return distill.distillation_loss(loss, student_outputs, teacher_outputs, instruction["hardness"], instruction["temperature"], keys)

    def _hold_mask(self, instruction: HoldMaskOp, k: int, epoch: float) -> None:
        names = self._selected[instruction["selector"]]
        events = ops.hold_at(instruction, k)
        end = instruction["end_step"]
        if "hold" not in events and self._shared and (end is None or k < end):
            # SparseML rebuilt a ConstantPruning mask at every step (``weight != 0``). Alone, that is
            # the mask it holds; where another modifier also masks the parameter, the rebuilt mask
            # takes in the other's new zeros and keeps them after that modifier lets go of them.
            for name in self._shared.intersection(names):
                param = self._params[name]
                self._set_mask(name, sharded.local(param.detach() != 0).to(param.dtype), instruction)
        for change in events:
            if change == "hold":
                for name in names:
                    param = self._params[name]
                    self._set_mask(name, sharded.local(param.detach() != 0).to(param.dtype), instruction)
            else:
                for name in names:
                    self._drop_mask(name, instruction)

    def _prune(self, instruction: PruneOp, k: int, epoch: float) -> None:
        prune = self._prune_of[id(instruction)]
        if ops.prune_update_due(instruction, k):
            self._update_masks(prune, epoch)
        if ops.prune_releases_at(instruction, k) and not prune.done:
            prune.done = True
            self._apply_masks()
            for name in prune.names:
                self._drop_mask(name, instruction)

    def _update_masks(self, prune: _Prune, epoch: float) -> None:
        instruction = prune.instruction
        init = instruction["init_sparsity"]
        targets: dict[str, float] = {}
        for name in prune.names:
            start_value = sharded.zero_fraction(self._params[name]) if init == "__FROM_PARAM__" else float(init)
            targets[name] = ops.prune_target(instruction, epoch, start_value, prune.finals[name])
        scorer = self._scorers.get(id(instruction))
        if scorer is not None:
            created = scorer.update([targets[n] for n in prune.names], lambda name: self._own_mask(name, instruction))
            for name, keep in zip(prune.names, created, strict=True):
                self._set_mask(name, keep.to(self._params[name].dtype), instruction)
            return
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
            # A sharded parameter is gathered whole (together only when global sparsity ranks them together).
            tensors = [sharded.masked_whole(self._params[n], self._state.masks.get(n)) for n in names]
            created = masks.create(tensors, [targets[n] for n in names], instruction["mask_type"], instruction["global_sparsity"])
            del tensors
            for name, keep in zip(names, created, strict=True):
                self._set_mask(name, sharded.shard_like(keep.to(self._params[name].dtype), self._params[name]), instruction)

    # -- lifecycle ------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume: step, masks, what to restore, and the plan (its hash, and itself to name edits)."""
        return {
            "plan_sha256": self.plan.sha256,
            "plan": self.plan.to_json(),
            "step": self._state.step,
            "masks": self.masks(),
            # Each instruction's own mask on a parameter several mask (the masks above are their products).
            "owned_masks": {name: {index: m.bool() for index, m in own.items()} for name, own in self._state.owned.items()},
            "trainable_restore": dict(self._state.trainable_restore),
            "released": [i for i, p in enumerate(self._prunes) if p.done],
            "acdc_released": sorted(self._acdc_released),
            "momentum_reset": self._momentum_reset,
            "skipped_distillation": self._skipped_distillation,
            # Which layers are out of the model, and their weights (absent from model.state_dict() then).
            "removed_modules": [{n: m.state_dict() for n, m in removal.held.items()} for _, removal in self._removals],
            "qat": None if self._quantization is None else self._quantization.state_dict(),
            "scorers": [
                self._scorers[id(p.instruction)].state_dict() if id(p.instruction) in self._scorers else None for p in self._prunes
            ],
        }

    def load_state_dict(self, state: dict[str, Any], allow_changed_plan: bool = False) -> None:
        """Resume from :meth:`state_dict`; a state saved with another plan is refused, naming what changed,
        unless ``allow_changed_plan`` (then the changes are warned about and this plan runs from the saved step)."""
        changes = checkpoint.check_resumed_plan(state, self.plan, allow_changed_plan, RuntimeRefusal)
        if changes:
            warnings.warn(f"resuming with a changed plan, on purpose: {'; '.join(changes)}", misuse.RecipeRuntimeWarning, stacklevel=2)
        unknown = [name for name in state["masks"] if name not in self._params]
        if unknown:
            raise RuntimeRefusal(f"saved masks name parameters this model does not have: {unknown[:3]}")
        if self._quantization is not None and state.get("qat") is not None:
            try:
                self._quantization.check_state_dict(state["qat"])
            except QatConfigError as error:
                raise RuntimeRefusal(str(error)) from None
        wrong = sharded.wrong_mask_shape(state["masks"], self._params)
        if wrong is not None:
            raise RuntimeRefusal(wrong)
        saved_masks = {n: m.to(self._params[n].device, self._params[n].dtype) for n, m in state["masks"].items()}
        self._state = _State(int(state["step"]), saved_masks, dict(state["trainable_restore"]))
        for name, own in (state.get("owned_masks") or {}).items():
            if name in self._shared and name in saved_masks:
                like = saved_masks[name]
                self._state.owned[name] = {int(index): m.to(like.device, like.dtype) for index, m in own.items()}
        for name in self._shared.intersection(saved_masks).difference(self._state.owned):
            # Saved without each instruction's own mask (an older recipekit): their product stands in for
            # the first one's until each instruction's next update.
            first = min(self._index[id(i)] for i, _ in self._mask_handlers if name in self._selected[cast(str, _mask_selector(i))])
            self._state.owned[name] = {first: saved_masks[name]}
        self._prepared = -1
        for index in state.get("released", []):
            self._prunes[index].done = True
        self._acdc_released = set(state.get("acdc_released", []))
        self._momentum_reset = bool(state.get("momentum_reset", False))
        self._skipped_distillation = int(state.get("skipped_distillation", 0))
        for (_, removal), saved in zip(self._removals, state.get("removed_modules") or [{}] * len(self._removals), strict=True):
            # Swap to the saved structure first: then model.load_state_dict(...) finds the keys it saved.
            if saved and not removal.replaced:
                removal.remove(self.model)
            elif not saved and removal.replaced:
                removal.restore(self.model)
            for name, weights in saved.items():
                removal.held[name].load_state_dict(weights)
        for prune, saved in zip(self._prunes, state.get("scorers") or [None] * len(self._prunes), strict=True):
            if saved is not None and id(prune.instruction) in self._scorers:
                self._scorers[id(prune.instruction)].load_state_dict(saved)
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
        for instruction, removal in self._removals:
            # SparseML's finalize re-checks at epoch inf: removed for good without an end, else restored.
            if instruction["restore_step"] is None:
                removal.remove(self.model)
            else:
                removal.restore(self.model)
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
        if self._distillation is not None and self._skipped_distillation > 1:
            warnings.warn(
                f"{_where(self._distillation)}: {self._skipped_distillation} steps inside the distillation window trained without "
                "the teacher (their loss was not passed through runner.distillation_loss(...))",
                DistillationSkipped,
                stacklevel=2,
            )
        message = misuse.end_of_run_message(self._state.step, self.plan.total_steps, self.plan.steps_per_epoch)
        if message is not None:
            misuse.warn(message)

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


class DistillationSkipped(RuntimeWarning):
    """A step inside the distillation window trained without the teacher's loss."""


def _may_loosen(plan: Plan, selected: dict[str, list[str]]) -> set[str]:
    """Parameters whose mask can give back pruned weights: two mask instructions, or a target that goes down."""
    seen: set[str] = set()
    loosen: set[str] = set()
    for instruction in plan.instructions:
        selector = _mask_selector(instruction)
        if selector is None:
            continue
        names = selected[selector]
        loosen |= seen & set(names)
        seen |= set(names)
        if instruction["op"] == "prune":
            init, final = instruction["init_sparsity"], instruction["final_sparsity"]
            finals = [float(f) for f in final] if isinstance(final, dict) else [float(final)]
            if init == "__FROM_PARAM__" or any(f < float(init) for f in finals):
                loosen |= set(names)
    return loosen


def _shared_names(plan: Plan, selected: dict[str, list[str]]) -> set[str]:
    """Parameters that two or more mask instructions (prune, acdc, hold_mask) select."""
    seen: set[str] = set()
    shared: set[str] = set()
    for instruction in plan.instructions:
        selector = _mask_selector(instruction)
        if selector is not None:
            names = set(selected[selector])
            shared |= seen & names
            seen |= names
    return shared


def _product(masks: dict[int, torch.Tensor]) -> torch.Tensor:
    """The keep-mask of several 0/1 masks applied one after the other (in plan order; the order changes no bit)."""
    ordered = [masks[index] for index in sorted(masks)]
    product = ordered[0].clone() if len(ordered) > 1 else ordered[0]
    for mask in ordered[1:]:
        product.mul_(mask)
    return product


def _mask_selector(instruction: Instruction) -> str | None:
    """The selector of an instruction that keeps masks on what it selects (prune, acdc, hold_mask)."""
    if instruction["op"] == "prune" or instruction["op"] == "acdc" or instruction["op"] == "hold_mask":
        return instruction["selector"]
    return None


def _reset_momentum(optimizer: torch.optim.Optimizer) -> None:
    """AC/DC's reset: every ``momentum_buffer`` in the optimizer's state times zero, in place (Adam's moments untouched)."""
    for state in optimizer.state.values():
        buffer = state.get("momentum_buffer")
        if isinstance(buffer, torch.Tensor):
            buffer.mul_(0.0)


def attach(
    plan: Plan | str | os.PathLike[str],
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    *,
    scaler: Any = None,
    grad_sampler: GradSampler | None = None,
    teacher: Any = None,
    strict: bool = False,
    exact_optimizer_state: bool = False,
    hook_before_step: bool = True,
) -> PlanRunner:
    """Check the plan against the model and optimizer, then hook into ``optimizer.step()``.

    Pass the AMP ``torch.amp.GradScaler`` as ``scaler`` when there is one: a step it skips on
    inf/NaN gradients still advances the schedule (see :meth:`PlanRunner.step_skipped`).
    A plan with OBS pruning needs ``grad_sampler`` (a :class:`GradSampler`, or SparseML's
    ``{"data_loader_builder", "loss_function"}`` dict); one with distillation needs ``teacher``
    (a module or a callable) and a :meth:`PlanRunner.distillation_loss` call per step, or
    ``teacher="disable"`` to train without it (SparseML's ``distillation_teacher="disable"``).
    A wrapper holding the torch optimizer as ``.optimizer`` (accelerate, Lightning) is unwrapped.
    Each modifier the plan records but this runtime does not execute is a
    :class:`RecipeRuntimeWarning`; ``strict=True`` refuses such a plan instead.
    ``exact_optimizer_state=True`` keeps SparseML's optimizer state at pruned weights (their
    decaying momentum) at the cost of a pass over the pruned tensors after every step; by default
    a mask that never gives weights back clears that state instead, with the same weights to the
    bit (docs/runtime.md, "Cost per step").
    ``hook_before_step=False`` leaves each step's instructions to :meth:`PlanRunner.before_step`,
    for loops whose ``optimizer.step(closure)`` runs the forward pass after the step pre-hook
    (Lightning; ``recipekit.integrations.lightning`` does this). Parameters sharded by FSDP2's
    ``fully_shard`` keep their masks as local shards (``recipekit.runtime.sharded``).
    Raises :class:`RuntimeRefusal` (or :class:`~recipekit.plan.PlanError` for an
    invalid plan file) before changing anything.
    """
    if not isinstance(plan, Plan):
        plan = load_plan(plan)
    # Every recipe has modifiers (S200 otherwise). A plan that executes none of them, when they asked for
    # something (an EpochRangeModifier alone asks for nothing), is a recipe silently reduced to nothing:
    # e.g. a v2 recipe compiled by an older recipekit (no instructions), or only not-executed notes (C410).
    asked = [i for i in plan.instructions if i["origin"]["modifier"] != "EpochRangeModifier"]
    if not plan.instructions or (asked and all(i["op"] == "note" for i in asked)):
        raise RuntimeRefusal(
            f"the plan from {plan.recipe_path!r} has no instruction the runtime executes ({len(plan.instructions)} notes): "
            "training with it would do nothing the recipe asked. Recompile the recipe (`recipekit compile` says why)"
        )
    return PlanRunner(plan, model, optimizer, scaler, grad_sampler, teacher, strict, exact_optimizer_state, hook_before_step)
