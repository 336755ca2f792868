"""Recipe IR → :class:`~recipekit.plan.Plan`: SparseML's schedule, flattened.

Each modifier becomes instructions keyed by the optimizer step at which they
take effect.  A schedule that changes every step is one instruction with a
closed form (``recipekit.plan.schedule``), so plan size and compile time depend on
the number of schedule *changes*, not on the number of steps.  Where SparseML
would crash during training, we refuse here, at the recipe position.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from typing import Any

from recipekit import limits
from recipekit.compiler import refusals, traps
from recipekit.compiler.identifier import identifier
from recipekit.compiler.normalize import json_safe
from recipekit.diagnostics import Diagnostic, Severity
from recipekit.ir import GRADUAL_PRUNERS, Modifier, Recipe
from recipekit.plan import ops, schedule
from recipekit.plan.model import Plan
from recipekit.plan.not_executed import NOT_EXECUTED
from recipekit.plan.ops import (
    AcdcOp,
    DistillOp,
    HoldMaskOp,
    Instruction,
    LrFunctionOp,
    LrSchedulerOp,
    NoteOp,
    Origin,
    PruneOp,
    QatOp,
    ReplaceModulesOp,
    Score,
    SetLrOp,
    SetTrainableOp,
    SetWeightDecayOp,
    Updates,
)

GLOBAL_BY_DEFAULT = {"GlobalMagnitudePruningModifier": True, "MagnitudePruningModifier": False, "MovementPruningModifier": False}
_NM = re.compile(r"^(\d+):(\d+)$")


def manager_order(modifiers: tuple[Modifier, ...]) -> list[Modifier]:
    """SparseML's manager order: end epoch (-1 last), start epoch, then ``identifier()``.

    The identifier is the class name and an md5 of the serialized properties
    (``compiler/identifier.py``), so two modifiers that tie on their epochs run in
    SparseML's order, not file order; the linter flags modifiers that write the
    same value at the same step, whose winner is then this order. Equal
    identifiers keep file order (SparseML's sort is stable).
    """

    def key(modifier: Modifier) -> tuple[float, float, str, int]:
        start = float(modifier.value("start_epoch")) if "start_epoch" in modifier.params else -1.0
        end = float(modifier.value("end_epoch")) if "end_epoch" in modifier.params else -1.0
        return (math.inf if end == -1 else end, start, identifier(modifier) or modifier.type, modifier.index)

    return sorted(modifiers, key=key)


class Lowering:
    def __init__(self, recipe: Recipe, steps_per_epoch: float) -> None:
        self.recipe = recipe
        self.source = recipe.source
        self.spe = steps_per_epoch
        self.diagnostics: list[Diagnostic] = []
        self.instructions: list[Instruction] = []
        self.selectors: list[dict[str, Any]] = []
        epochs = [
            (float(m.value("start_epoch")), float(m.value("end_epoch")))
            for m in recipe.modifiers
            if "start_epoch" in m.params and "end_epoch" in m.params
        ]
        self.max_epochs = schedule.max_epochs(epochs)
        self.total_steps = round(self.max_epochs * steps_per_epoch) if self.max_epochs > 0 else 0

    # -- helpers ------------------------------------------------------------
    def error(self, code: str, modifier: Modifier, param: str | None, message: str) -> None:
        span = modifier.params[param].span if param and modifier.params[param].span else modifier.span
        assert span is not None
        self.diagnostics.append(self.source.diag(code, span, message))

    def origin(self, modifier: Modifier, order: int) -> Origin:
        loc = self.source.location(modifier.span)
        return {
            "modifier": modifier.type,
            "index": modifier.index,
            "order": order,
            "path": loc.path,
            "line": loc.line,
            "column": loc.column,
        }

    def selector(self, patterns: Any, modifier: Modifier) -> str:
        selector_id = f"s{len(self.selectors)}"
        items = [patterns] if isinstance(patterns, str) else list(patterns)
        loc = (
            self.source.location(modifier.params["params"].span or modifier.span)
            if "params" in modifier.params
            else self.source.location(modifier.span)
        )
        self.selectors.append({"id": selector_id, "patterns": items, "path": loc.path, "line": loc.line, "column": loc.column})
        return selector_id

    def start_step(self, epoch: float) -> int:
        return 0 if epoch == -1 else schedule.first_step_at(epoch, self.spe)

    def refuse(self, code: str, problems: Iterator[refusals.Problem]) -> bool:
        """Report SparseML-crash problems (``compiler/refusals.py``) under their one code; True when there were any."""
        found = [Diagnostic(code, Severity.ERROR, message, self.source.location(span), name=_name(code)) for span, message in problems]
        self.diagnostics.extend(found)
        return bool(found)

    def trap(self, code: str, problems: Iterator[refusals.Problem]) -> bool:
        """Report SparseML's silent traps (``compiler/traps.py``) as warnings under their one code; True when there were any."""
        found = [Diagnostic(code, Severity.WARNING, message, self.source.location(span), name=_name(code)) for span, message in problems]
        self.diagnostics.extend(found)
        return bool(found)

    def add(self, instruction: Instruction) -> None:
        self.instructions.append(instruction)

    # -- modifiers ----------------------------------------------------------
    def lower(self) -> None:
        # What SparseML ran silently, across modifiers: compiled as it ran, and said (lint reports the same code).
        self.trap(traps.QAT_LOSES_SPARSITY, traps.qat_loses_sparsity(self.recipe.modifiers, self.source))
        self.trap(traps.SEVERAL_QUANTIZERS, traps.several_quantizers(self.recipe.modifiers))
        for order, modifier in enumerate(manager_order(self.recipe.modifiers)):
            # SparseML refused it when the recipe loaded.
            if self.refuse(refusals.END_BEFORE_START, refusals.end_before_start(modifier)):
                continue
            # SparseML raised re.error when the modifier initialised, after training had started.
            self.refuse(refusals.INVALID_REGEX, refusals.invalid_regex(modifier, self.source))
            handler = getattr(self, f"lower_{modifier.type}", None)
            if modifier.type in GRADUAL_PRUNERS:
                self.lower_gradual(modifier, order)
            elif handler is not None:
                handler(modifier, order)
            elif modifier.type in NOT_EXECUTED:
                reason = NOT_EXECUTED[modifier.type]
                if reason is not None:
                    self.error("C410", modifier, None, f"{modifier.type} is recorded in the plan but not executed: {reason}")
                step = self.start_step(float(modifier.value("start_epoch"))) if "start_epoch" in modifier.params else 0
                self.add(NoteOp(op="note", step=step, origin=self.origin(modifier, order)))
        self.instructions.sort(key=lambda i: (i["step"], i["origin"]["order"]))

    def lower_SetLearningRateModifier(self, modifier: Modifier, order: int) -> None:
        step = self.start_step(modifier.value("start_epoch"))
        value, groups = modifier.value("learning_rate"), modifier.value("param_groups")
        self.add(SetLrOp(op="set_lr", step=step, origin=self.origin(modifier, order), value=value, param_groups=groups))

    def lower_SetWeightDecayModifier(self, modifier: Modifier, order: int) -> None:
        step = self.start_step(modifier.value("start_epoch"))
        value, groups = modifier.value("weight_decay"), modifier.value("param_groups")
        self.add(SetWeightDecayOp(op="set_weight_decay", step=step, origin=self.origin(modifier, order), value=value, param_groups=groups))

    def lower_LearningRateFunctionModifier(self, modifier: Modifier, order: int) -> None:
        start, end = modifier.value("start_epoch"), modifier.value("end_epoch")
        # An end before the start (or -1) is L301, refused before; an empty range is L302, as in recipe-lint.
        if self.refuse(refusals.ZERO_LENGTH_RAMP, refusals.zero_length_ramp(modifier)):
            return
        self.add(LrFunctionOp(
            op="lr_function", step=self.start_step(start), origin=self.origin(modifier, order),
            last_step=schedule.first_step_at(end, self.spe), func=modifier.value("lr_func"),
            init_lr=modifier.value("init_lr"), final_lr=modifier.value("final_lr"), start_epoch=start, end_epoch=end,
            cycle_epochs=modifier.value("cycle_epochs"), param_groups=modifier.value("param_groups"),
        ))  # fmt: skip

    def lower_LearningRateModifier(self, modifier: Modifier, order: int) -> None:
        start, end = modifier.value("start_epoch"), modifier.value("end_epoch")
        kwargs: dict[str, Any] = modifier.value("lr_kwargs")
        lr_class = modifier.value("lr_class")
        if self.refuse(refusals.LR_KWARGS, refusals.lr_kwargs(modifier)):
            return
        if self.refuse(refusals.MILESTONES, refusals.milestones(modifier, crashes_only=True)):
            return
        self.trap(refusals.MILESTONES, refusals.milestones_order(modifier))
        first = self.start_step(start)
        fields = LrSchedulerOp(
            op="lr_scheduler", step=first, origin=self.origin(modifier, order), lr_class=lr_class, init_lr=modifier.value("init_lr"),
            origin_step=first, last_step=schedule.first_step_at(end, self.spe) if end >= 0 else None, start_epoch=start, end_epoch=end,
        )  # fmt: skip
        if lr_class in ("StepLR", "ExponentialLR"):
            size = 1.0 if lr_class == "ExponentialLR" else float(kwargs["step_size"])
            fields["step_size_steps"] = round(size * self.spe)
            fields["gamma"] = kwargs["gamma"]
            if fields["step_size_steps"] < 1:
                self.error("C402", modifier, "lr_kwargs", f"step_size {size} epochs is less than one step at {self.spe} steps per epoch")
                return
        elif lr_class == "MultiStepLR":
            milestones = kwargs["milestones"]
            # SparseML converts milestones relative to start_epoch, so -1 shifts them one epoch late (kept).
            fields["milestone_steps"] = [round((m - start) * self.spe) for m in milestones]
            fields["gamma"] = kwargs["gamma"]
        else:
            fields["eta_min"] = kwargs["lr_min"]
            fields["cycle_epochs"] = kwargs["cycle_epochs"]
        self.add(fields)

    def lower_ACDCPruningModifier(self, modifier: Modifier, order: int) -> None:
        start, end = float(modifier.value("start_epoch")), float(modifier.value("end_epoch"))
        phase = float(modifier.value("update_frequency"))
        first = self.start_step(start)
        steps: list[int] = []
        end_step = schedule.first_step_at(end, self.spe) if end >= 0 else None
        if first < self.total_steps:
            updates, end_step = self.update_steps(modifier, start, end, phase)
            steps = updates.get("steps", [])
        self.add(AcdcOp(
            op="acdc", step=first, origin=self.origin(modifier, order), selector=self.selector(modifier.value("params"), modifier),
            compression_sparsity=float(modifier.value("compression_sparsity")),
            phases=[{"step": s, "compress": acdc_compresses(schedule.epoch_at(s, self.spe), start, end, phase)} for s in steps],
            momentum_buffer_reset=modifier.value("momentum_buffer_reset"), mask_type=modifier.value("mask_type"),
            global_sparsity=modifier.value("global_sparsity"), leave_enabled=modifier.value("leave_enabled"), end_step=end_step,
        ))  # fmt: skip

    def lower_LayerPruningModifier(self, modifier: Modifier, order: int) -> None:
        start, end = float(modifier.value("start_epoch")), float(modifier.value("end_epoch"))
        layers = modifier.value("layers")
        # SparseML swapped at initialize (epoch 0) when start_epoch <= 0 or -1, else in the update of the
        # first step at or after start_epoch; it restored at the first update at or after end_epoch.
        step = 0 if start <= 0 else schedule.first_step_at(start, self.spe)
        restore = None if end == -1 else (0 if end <= 0 else max(schedule.first_step_at(end, self.spe), step))
        self.add(ReplaceModulesOp(
            op="replace_modules", step=step, origin=self.origin(modifier, order),
            modules=[layers] if isinstance(layers, str) else list(layers), restore_step=restore,
        ))  # fmt: skip

    def lower_DistillationModifier(self, modifier: Modifier, order: int) -> None:
        start, end = float(modifier.value("start_epoch")), float(modifier.value("end_epoch"))
        first = self.start_step(start)
        # SparseML's window includes the step at end_epoch: its loss_update runs before the update that ends it.
        last = max(schedule.first_step_at(end, self.spe), first) if end >= 0 else None
        self.trap(traps.DISTILLATION_WINDOW, traps.distillation_window(modifier))
        self.add(DistillOp(
            op="distill", step=first, origin=self.origin(modifier, order), last_step=last, hardness=float(modifier.value("hardness")),
            temperature=float(modifier.value("temperature")), distill_output_keys=modifier.value("distill_output_keys"),
            teacher_input_keys=modifier.value("teacher_input_keys"),
        ))  # fmt: skip

    def lower_ConstantPruningModifier(self, modifier: Modifier, order: int) -> None:
        start, end = modifier.value("start_epoch"), modifier.value("end_epoch")
        last = schedule.first_step_at(end, self.spe) if end >= 0 else None
        selector = self.selector(modifier.value("params"), modifier)
        self.add(
            HoldMaskOp(op="hold_mask", step=self.start_step(start), origin=self.origin(modifier, order), selector=selector, end_step=last)
        )

    def lower_TrainableParamsModifier(self, modifier: Modifier, order: int) -> None:
        start, end = modifier.value("start_epoch"), modifier.value("end_epoch")
        last = schedule.first_step_at(end, self.spe) if end >= 0 else None
        patterns = modifier.value("params")
        self.add(SetTrainableOp(
            op="set_trainable",
            step=self.start_step(start),
            origin=self.origin(modifier, order),
            selector=self.selector(patterns, modifier),
            trainable=modifier.value("trainable"),
            restore_step=last,
            strict=modifier.value("params_strict"),
        ))  # fmt: skip

    def lower_QuantizationModifier(self, modifier: Modifier, order: int) -> None:
        start = modifier.value("start_epoch")
        if self.refuse(refusals.QAT_EPOCHS_BEFORE_START, refusals.qat_epochs_before_start(modifier)):
            return
        steps: dict[str, int | None] = {}
        for name in ("disable_quantization_observer_epoch", "freeze_bn_stats_epoch"):
            value = modifier.value(name)
            steps[name] = None if value is None else schedule.first_step_at(value, self.spe)
        config = {name: param.value for name, param in modifier.params.items() if name not in ("start_epoch", "end_epoch")}
        self.add(QatOp(
            op="qat", step=self.start_step(start), origin=self.origin(modifier, order), flavour=modifier.flavour or "new", config=config,
            observer_step=steps["disable_quantization_observer_epoch"], freeze_bn_step=steps["freeze_bn_stats_epoch"],
        ))  # fmt: skip

    def lower_gradual(self, modifier: Modifier, order: int) -> None:
        start, end = float(modifier.value("start_epoch")), float(modifier.value("end_epoch"))
        init, final = modifier.value("init_sparsity"), modifier.value("final_sparsity")
        inter = modifier.value("inter_func")
        mask_type = modifier.value("mask_type")
        global_sparsity = (
            modifier.params["global_sparsity"].value
            if "global_sparsity" in modifier.params
            else GLOBAL_BY_DEFAULT.get(modifier.type, False)
        )
        if self.refuse(refusals.BAD_MASK_TYPE, refusals.bad_mask_type(modifier)):
            return
        score = self.score(modifier, mask_type)
        if score is None:
            return
        if modifier.type == "StructuredPruningModifier":
            global_sparsity = False  # SparseML's structured mask creator has no global mode
        patterns = modifier.value("params")
        finals: Any = final
        if isinstance(final, dict):
            finals = {repr(k): v for k, v in final.items()}
            patterns = [p for names in final.values() for p in names]
            if global_sparsity:
                self.error("C405", modifier, "final_sparsity", "global sparsity needs one target; a final_sparsity mapping gives several")
                return
        elif patterns == []:
            patterns = "__ALL_PRUNABLE__"  # SparseML: [] with a float final_sparsity means every prunable layer
        first = self.start_step(start)
        if first >= self.total_steps:
            updates: Updates = {"steps": []}
            end_step = None
        else:
            updates, end_step = self.update_steps(modifier, start, end, float(modifier.value("update_frequency")))
        if updates.get("steps") or updates.get("every_step"):
            # Only a ramp that updates crashes SparseML; one that starts after training ends never does.
            if self.refuse(refusals.ZERO_LENGTH_RAMP, refusals.zero_length_ramp(modifier)):
                return
            if not self.check_ramp(modifier, updates, end, inter):
                return
            if self.refuse(refusals.NM_RAMP, refusals.nm_ramp(modifier)):
                return
        if self.trap(traps.SAMPLING_NEVER_PRUNES, traps.sampling_never_prunes(modifier, self.spe)):
            updates = {"steps": []}
        buffered = score["kind"] == "mfac" and score.get("use_gradient_buffering") is True
        short = ops.buffered_gradients_short(updates, score["num_grads"]) if buffered and isinstance(score["num_grads"], int) else None
        if short is not None:
            message = (
                f"use_gradient_buffering: M-FAC buffers one training gradient per step and its update at step {short[0]} would "
                f"have {short[1]} of num_grads {score['num_grads']}; SparseML raised RuntimeError there: start later or lower num_grads"
            )
            self.error("C430", modifier, "num_grads" if "num_grads" in modifier.params else None, message)
            return
        self.add(PruneOp(
            op="prune", step=first, origin=self.origin(modifier, order), selector=self.selector(patterns, modifier), init_sparsity=init,
            final_sparsity=finals, start_epoch=start, end_epoch=end, inter_func=inter, mask_type=mask_type,
            global_sparsity=global_sparsity, leave_enabled=modifier.value("leave_enabled"), updates=updates, end_step=end_step,
            score=score,
        ))  # fmt: skip

    def score(self, modifier: Modifier, mask_type: Any) -> Score | None:
        """The algorithm that scores weights at each update, with its parameters; None after a refusal."""
        kind = modifier.type
        if kind == "MovementPruningModifier":
            return {"kind": "movement"}
        if kind == "StructuredPruningModifier":
            return {"kind": "group_l2", "structure": mask_type, "param_groups": modifier.value("param_groups") or []}
        if kind == "OBSPruningModifier":
            return self.obs_score(modifier, mask_type)
        if kind == "MFACPruningModifier":
            # A string damp (1e-5 under YAML 1.1), which M-FAC divides by unconverted, is S208 in the front-end.
            return self.mfac_score(modifier, float(modifier.value("damp")))
        return {"kind": "magnitude"}

    def mfac_score(self, modifier: Modifier, damp: float) -> Score | None:
        block = modifier.value("fisher_block_size")
        devices = modifier.value("available_devices")
        pages = modifier.value("num_pages")
        if not block and (devices != [] or pages > 1):
            message = (
                "fisher_block_size null: SparseML then computes the unblocked inverse with its CUDA-only page-swap class "
                "(an AssertionError without a GPU), and recipekit runs M-FAC on the CPU paths only: "
                "add available_devices: [] (unblocked, on the CPU) or set a fisher_block_size"
            )
            self.error("C428", modifier, "fisher_block_size" if "fisher_block_size" in modifier.params else None, message)
            return None
        num_grads = modifier.value("num_grads")
        if isinstance(num_grads, dict):
            bad = [v for v in num_grads.values() if not isinstance(v, int) or isinstance(v, bool) or v < 1]
            keys = [k for k in num_grads if _sparsity_key(k) is None]
            if bad or keys or not any(_sparsity_key(k) == 0.0 for k in num_grads):
                what = f"{bad[0]!r} is not a positive count" if bad else f"{keys[0]!r} is not a sparsity" if keys else "0.0 is missing"
                message = f"num_grads maps sparsities to gradient counts and must include 0.0 (SparseML raised ValueError): {what}"
                self.error("C429", modifier, "num_grads", message)
                return None
            num_grads = {str(float(k)): v for k, v in sorted(num_grads.items(), key=lambda item: float(item[0]))}
        self.trap(traps.SAMPLING_SKIPS_OPTIMIZER, traps.sampling_skips_optimizer(modifier, self.spe))
        return {
            "kind": "mfac", "num_grads": num_grads, "damp": damp, "fisher_block_size": block or None,
            "use_gradient_buffering": modifier.value("use_gradient_buffering"),
            "grad_sampler_kwargs": modifier.value("grad_sampler_kwargs"),
        }  # fmt: skip

    def obs_score(self, modifier: Modifier, mask_type: Any) -> Score | None:
        # The mask types OBS cannot build (L313) and a block4 Fisher block size (L315) were refused before.
        block = modifier.value("fisher_block_size")
        if self.refuse(refusals.FISHER_BLOCK_SIZE, refusals.fisher_block_size(modifier)):
            return None
        self.trap(traps.DIAGONAL_FISHER, traps.diagonal_fisher(modifier))
        self.trap(traps.SAMPLING_SKIPS_OPTIMIZER, traps.sampling_skips_optimizer(modifier, self.spe))
        num_grads = modifier.value("num_grads")
        return {
            "kind": "obs", "num_grads": num_grads, "damp": float(modifier.value("damp")), "fisher_block_size": block,
            "num_recomputations": modifier.value("num_recomputations"), "grad_sampler_kwargs": modifier.value("grad_sampler_kwargs"),
        }  # fmt: skip

    def update_steps(self, modifier: Modifier, start: float, end: float, frequency: float) -> tuple[Updates, int | None]:
        """The steps at which SparseML's ScheduledUpdateModifier updates, with its drift."""
        spe, total = self.spe, self.total_steps
        first = self.start_step(start)
        end_step = schedule.first_step_at(end, spe) if end >= 0 else None
        if end_step is not None and end_step <= first:
            return {"steps": [first]}, first
        last_possible = min(end_step if end_step is not None else total - 1, total - 1)
        if frequency <= 0 or frequency * spe < 1 - 1e-9:
            # Shorter than a step: every step is an update, one closed-form range instead of a list.
            return {"every_step": [first, last_possible]}, end_step
        if (last_possible - first) / (frequency * spe) > limits.MAX_PLAN_UPDATES:
            message = (
                f"update_frequency {frequency} gives more than {limits.MAX_PLAN_UPDATES} mask updates at {spe:g} steps per epoch; "
                "use -1 to update every step"
            )
            self.error("C413", modifier, "update_frequency", message)
            return {"steps": []}, end_step
        steps = [first]
        last_update = schedule.epoch_at(first, spe)
        while True:
            # Measured from the last actual update, not from a grid: this is SparseML's drift.
            candidate = max(steps[-1] + 1, schedule.first_step_at(last_update + frequency, spe))
            if end_step is not None and end_step <= candidate:
                steps.append(end_step)
                break
            if candidate > last_possible:
                break
            steps.append(candidate)
            last_update = schedule.epoch_at(candidate, spe)
        return {"steps": [s for s in steps if s < total]}, end_step

    def check_ramp(self, modifier: Modifier, updates: Updates, end: float, inter: str) -> bool:
        steps = updates.get("steps") or updates["every_step"]
        last = steps[-1]
        if inter == "inverse_cubic" and end >= 0 and schedule.epoch_at(last, self.spe) > end:
            message = (
                f"inverse_cubic needs end_epoch {end} to fall on a step: at {self.spe} steps per epoch the last update is at "
                f"epoch {schedule.epoch_at(last, self.spe)}, where SparseML's interpolation becomes complex and crashes"
            )
            self.error("C408", modifier, "end_epoch", message)
            return False
        return True


def _name(code: str) -> str:
    """A refusal's or a trap's rule name (one code, one name, in recipe-lint and compile alike)."""
    return refusals.NAMES.get(code) or traps.NAMES[code]


def _sparsity_key(key: Any) -> float | None:
    """A mapping key read as a sparsity (the YAML front-end keeps keys as text), or None."""
    if isinstance(key, bool):
        return None
    try:
        value = float(key)
    except (TypeError, ValueError):
        return None
    return value if 0.0 <= value <= 1.0 else None


def acdc_compresses(epoch: float, start: float, end: float, phase: float) -> bool:
    """SparseML's ``get_applied_sparsity_for_epoch``: even phases decompress, except in the last ``phase`` epochs before end."""
    number = math.floor((epoch - start) / phase)
    return not (number % 2 == 0 and end - phase > epoch)


def lower(recipe: Recipe, steps_per_epoch: float, sha256: str) -> tuple[Plan | None, list[Diagnostic]]:
    lowering = Lowering(recipe, steps_per_epoch)
    lowering.lower()
    variables = {name: variable.value for name, variable in recipe.variables.items()}
    plan = Plan(
        recipe_path=recipe.source.path,
        recipe_sha256=sha256,
        steps_per_epoch=steps_per_epoch,
        max_epochs=lowering.max_epochs,
        total_steps=lowering.total_steps,
        variables=json_safe(variables),
        selectors=lowering.selectors,
        instructions=json_safe(lowering.instructions),
    )
    return plan, lowering.diagnostics
