"""The plan's instruction set, declared once: one ``TypedDict`` per op, and what each changes at step k.

The compiler (``compiler/lower.py``) builds these, the structural check
(``plan/check.py``) derives its field table from them, and both readers of a
plan, ``expand`` (``plan/simulate.py``) and the torch runtime
(``runtime/runner.py``), ask the functions below what an instruction changes at
optimizer step ``k``: the readers keep only their side effects (a number in a
dict, a tensor on a model).  Adding an op is: a class here (and in ``OPS``), its
producer in the compiler, its consumers, and ``schema/plan.schema.json``
(``tests/test_compile.py`` checks the schema against these classes).

Standard library only; not on the lint path.
"""

from __future__ import annotations

from typing import Literal, TypedDict

from recipekit.plan.schedule import instruction_lr, interpolate, scheduler_lr, update_due


class Origin(TypedDict):
    """Where an instruction comes from: the modifier, its place in the file and in SparseML's order."""

    modifier: str
    index: int
    order: int
    path: str
    line: int
    column: int


class _Op(TypedDict):
    step: int
    origin: Origin


class NoteOp(_Op):
    """A modifier the plan records and the runtime does not act on."""

    op: Literal["note"]


class SetLrOp(_Op):
    op: Literal["set_lr"]
    value: float
    param_groups: list[int] | None


class SetWeightDecayOp(_Op):
    op: Literal["set_weight_decay"]
    value: float
    param_groups: list[int] | None


class LrFunctionOp(_Op):
    op: Literal["lr_function"]
    last_step: int
    func: str
    init_lr: float
    final_lr: float
    start_epoch: float
    end_epoch: float
    cycle_epochs: float
    param_groups: list[int] | None


class _LrSchedulerArguments(TypedDict, total=False):
    """The torch scheduler's own arguments, by ``lr_class``."""

    step_size_steps: int  # StepLR, ExponentialLR
    milestone_steps: list[int]  # MultiStepLR
    gamma: float  # StepLR, ExponentialLR, MultiStepLR
    eta_min: float  # CosineAnnealingWarmRestarts
    cycle_epochs: float  # CosineAnnealingWarmRestarts (SparseML's T_0, in epochs)


class LrSchedulerOp(_Op, _LrSchedulerArguments):
    op: Literal["lr_scheduler"]
    lr_class: str
    init_lr: float
    origin_step: int
    last_step: int | None
    start_epoch: float
    end_epoch: float


class Updates(TypedDict, total=False):
    """When a prune instruction updates its masks: listed steps, or every step of a closed range."""

    steps: list[int]
    every_step: list[int]


class _ScoreKind(TypedDict):
    kind: Literal["magnitude", "obs", "mfac", "movement", "group_l2"]


class Score(_ScoreKind, total=False):
    """How a prune instruction scores weights at each update, with the algorithm's parameters."""

    structure: str  # group_l2: "channel" or "filter"
    param_groups: list[list[str]]  # group_l2: parameters pruned together
    num_grads: int | dict[str, int]  # obs; mfac (or {str(sparsity): count}, thresholds ascending, 0.0 first)
    damp: float  # obs, mfac
    fisher_block_size: int | None  # obs; mfac (None: the unblocked inverse)
    num_recomputations: int  # obs
    grad_sampler_kwargs: dict[str, object] | None  # obs, mfac
    use_gradient_buffering: bool | None  # mfac: True buffers training gradients even with a grad sampler


class PruneOp(_Op):
    op: Literal["prune"]
    selector: str
    init_sparsity: float | str  # "__FROM_PARAM__": the sparsity the weights have when pruning starts
    final_sparsity: float | dict[str, list[str]]  # one target, or {repr(target): patterns}
    start_epoch: float
    end_epoch: float
    inter_func: str
    mask_type: str | list[int]
    global_sparsity: bool
    leave_enabled: bool
    updates: Updates
    end_step: int | None
    score: Score


class AcdcPhase(TypedDict):
    """One AC/DC update: compressed (magnitude masks at ``compression_sparsity``) or decompressed (all-ones masks)."""

    step: int
    compress: bool


class AcdcOp(_Op):
    """ACDCPruningModifier: dense and sparse phases alternate at SparseML's update steps (drift included).

    Masks stay enabled through a decompressed phase (all ones), so weights pruned before stay at
    zero until the optimizer moves them. With ``momentum_buffer_reset``, after the optimizer step
    of a decompressed update that follows a compressed one, every SGD ``momentum_buffer`` of the
    optimizer is zeroed (Adam's moments are not).
    """

    op: Literal["acdc"]
    selector: str
    compression_sparsity: float
    phases: list[AcdcPhase]
    momentum_buffer_reset: bool
    mask_type: str | list[int]
    global_sparsity: bool
    leave_enabled: bool
    end_step: int | None


class ReplaceModulesOp(_Op):
    """LayerPruningModifier: the named modules become an argument-insensitive Identity at ``step``.

    ``step`` 0 swaps at attach, before the first forward (SparseML's initialize, when
    start_epoch <= 0 or -1); a later step swaps after that step's forward and backward, before its
    optimizer update. ``restore_step`` puts the original modules back, weights and all (None: never,
    and finalize leaves the Identity in place, as SparseML's did).
    """

    op: Literal["replace_modules"]
    modules: list[str]  # exact module names, or ["__ALL__"] / ["__ALL_PRUNABLE__"]
    restore_step: int | None


class DistillOp(_Op):
    """DistillationModifier: the loss becomes SparseML's distillation loss from step to last_step (inclusive)."""

    op: Literal["distill"]
    last_step: int | None
    hardness: float
    temperature: float
    distill_output_keys: list[str] | None
    teacher_input_keys: list[str] | None


class HoldMaskOp(_Op):
    op: Literal["hold_mask"]
    selector: str
    end_step: int | None


class SetTrainableOp(_Op):
    op: Literal["set_trainable"]
    selector: str
    trainable: bool
    restore_step: int | None
    strict: bool


class QatOp(_Op):
    op: Literal["qat"]
    flavour: str
    config: dict[str, object]
    observer_step: int | None
    freeze_bn_step: int | None


Instruction = (
    NoteOp
    | SetLrOp
    | SetWeightDecayOp
    | LrFunctionOp
    | LrSchedulerOp
    | PruneOp
    | AcdcOp
    | ReplaceModulesOp
    | DistillOp
    | HoldMaskOp
    | SetTrainableOp
    | QatOp
)

#: Every op by name, the one list the plan check and the runtime's dispatch derive from.
OPS: dict[str, type] = {
    "note": NoteOp,
    "set_lr": SetLrOp,
    "set_weight_decay": SetWeightDecayOp,
    "lr_function": LrFunctionOp,
    "lr_scheduler": LrSchedulerOp,
    "prune": PruneOp,
    "acdc": AcdcOp,
    "replace_modules": ReplaceModulesOp,
    "distill": DistillOp,
    "hold_mask": HoldMaskOp,
    "set_trainable": SetTrainableOp,
    "qat": QatOp,
}


# -- what changes at step k -------------------------------------------------------------
# Instructions of one step apply in plan order (SparseML's manager order), so the same
# modifier wins a conflict as in SparseML. Each function says what one instruction does at
# step k, at epoch ``epoch`` = k / steps_per_epoch; None means "nothing at this step".


def lr_at(instruction: SetLrOp | LrFunctionOp | LrSchedulerOp, k: int, epoch: float, steps_per_epoch: float) -> float | None:
    """The learning rate an LR instruction sets before step ``k``."""
    if instruction["op"] == "set_lr":
        return instruction["value"] if k == instruction["step"] else None
    if instruction["op"] == "lr_function":
        return None if k > instruction["last_step"] else instruction_lr(instruction, epoch, steps_per_epoch)
    last = instruction["last_step"]
    return None if last is not None and k >= last else scheduler_lr(instruction, k, epoch)


def lr_groups(instruction: SetLrOp | LrFunctionOp | LrSchedulerOp) -> list[int] | None:
    """The param groups an LR instruction writes (None: all); SparseML's LearningRateModifier always wrote all."""
    return None if instruction["op"] == "lr_scheduler" else instruction["param_groups"]


def weight_decay_at(instruction: SetWeightDecayOp, k: int) -> float | None:
    return instruction["value"] if k == instruction["step"] else None


def trainable_at(instruction: SetTrainableOp, k: int) -> tuple[Literal["set", "restore"], ...]:
    """``set``: make the selection ``trainable``; ``restore``: undo that at end_epoch (both, in order, when they coincide)."""
    events: tuple[Literal["set", "restore"], ...] = ("set",) if k == instruction["step"] else ()
    if instruction["restore_step"] is not None and k == instruction["restore_step"]:
        events += ("restore",)
    return events


def hold_at(instruction: HoldMaskOp, k: int) -> tuple[Literal["hold", "release"], ...]:
    """``hold``: keep the zeros the weights have now; ``release``: stop at end_epoch (both, in order, when they coincide)."""
    events: tuple[Literal["hold", "release"], ...] = ("hold",) if k == instruction["step"] else ()
    if instruction["end_step"] is not None and k == instruction["end_step"]:
        events += ("release",)
    return events


def prune_update_due(instruction: PruneOp, k: int) -> bool:
    return update_due(instruction["updates"], k)


def prune_releases_at(instruction: PruneOp, k: int) -> bool:
    """SparseML applies the mask once more after the final update, then lets go (``leave_enabled: false``)."""
    end = instruction["end_step"]
    return end is not None and k == end and not instruction["leave_enabled"]


def prune_target(instruction: PruneOp, epoch: float, initial: float, final: float) -> float:
    """The sparsity a mask update at ``epoch`` aims for (``initial`` resolves ``__FROM_PARAM__``)."""
    return interpolate(epoch, instruction["start_epoch"], instruction["end_epoch"], initial, final, instruction["inter_func"])


def acdc_at(instruction: AcdcOp, k: int) -> tuple[float | None, bool]:
    """The target of an AC/DC update at step ``k`` (None: no update there) and whether momentum resets after the step.

    SparseML sets a "momentum buffer not empty" flag at every compressed update and resets at
    the first decompressed one after it; phases alternate, so that is a D right after a C.
    """
    phases = instruction["phases"]
    for index, phase in enumerate(phases):
        if phase["step"] == k:
            if phase["compress"]:
                return instruction["compression_sparsity"], False
            return 0.0, instruction["momentum_buffer_reset"] and index > 0 and phases[index - 1]["compress"]
    return None, False


def acdc_releases_at(instruction: AcdcOp, k: int) -> bool:
    """As a prune instruction: ``leave_enabled: false`` lets the masks go after the update at end_epoch."""
    end = instruction["end_step"]
    return end is not None and k == end and not instruction["leave_enabled"]


def modules_at(instruction: ReplaceModulesOp, k: int) -> tuple[Literal["replace", "restore"], ...]:
    """``replace`` at step, ``restore`` at restore_step (both, in order, when they coincide: SparseML's one check does both)."""
    events: tuple[Literal["replace", "restore"], ...] = ("replace",) if k == instruction["step"] else ()
    if instruction["restore_step"] is not None and k == instruction["restore_step"]:
        events += ("restore",)
    return events


def buffered_gradients_short(updates: Updates, num_grads: int) -> tuple[int, int] | None:
    """M-FAC without a grad sampler: the first update with fewer than ``num_grads`` buffered gradients, as (step, count).

    SparseML buffered one training gradient per step from initialize and restarted the buffer
    at every update; an update with fewer raised RuntimeError.
    """
    steps = updates.get("steps") or []
    if "every_step" in updates:
        first, last = updates["every_step"]
        steps = [first, first + 1] if last > first else [first]  # every later gap is one step too
    previous = -1
    for step in steps:
        if step - previous < num_grads:
            return step, step - previous
        previous = step
    return None


class QatEvents:
    """What a ``qat`` instruction does at one step; each event fires once, and never before QAT is on."""

    __slots__ = ("enable", "disable_observers", "freeze_bn")

    def __init__(self, enable: bool, disable_observers: bool, freeze_bn: bool) -> None:
        self.enable = enable
        self.disable_observers = disable_observers
        self.freeze_bn = freeze_bn

    def __bool__(self) -> bool:
        return self.enable or self.disable_observers or self.freeze_bn


def qat_at(instruction: QatOp, k: int) -> QatEvents:
    start = instruction["step"]
    observers, freeze = instruction["observer_step"], instruction["freeze_bn_step"]
    return QatEvents(
        enable=k == start,
        disable_observers=observers is not None and k == max(observers, start),
        freeze_bn=freeze is not None and k == max(freeze, start),
    )


def distill_active_at(instruction: DistillOp, k: int) -> bool:
    """SparseML's window includes the step at end_epoch: its loss update runs before the update that ends it."""
    last = instruction["last_step"]
    return instruction["step"] <= k and (last is None or k <= last)
