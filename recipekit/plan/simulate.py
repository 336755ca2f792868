"""Replay a plan's schedule step by step, without torch (``recipekit expand``).

The state after optimizer step k has the keys of the SparseML goldens:
``lr`` and ``weight_decay`` per param group, ``target_sparsity`` per pruned
parameter, ``qat``, ``qat_observers``, ``bn_frozen`` and ``frozen``.
Instructions of one step apply in the plan's order, which is SparseML's
manager order, so the same modifier wins a conflict as in SparseML.
"""

from __future__ import annotations

from typing import Any

from recipekit.plan import ops
from recipekit.plan import selectors as param_match
from recipekit.plan.model import Plan
from recipekit.plan.ops import (
    AcdcOp,
    DistillOp,
    HoldMaskOp,
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


def _groups(selected: list[int] | None, count: int) -> list[int]:
    return list(range(count)) if selected is None else [g for g in selected if g < count]


class Simulation:
    def __init__(
        self,
        plan: Plan,
        params: list[dict[str, Any]],
        param_groups: int = 1,
        optimizer_lr: float = 0.1,
        optimizer_weight_decay: float = 0.0,
    ) -> None:
        self.plan = plan
        self.params = params
        self.groups = param_groups
        self.lr = [optimizer_lr] * param_groups
        self.weight_decay = [optimizer_weight_decay] * param_groups
        self.names: dict[str, list[str]] = {}
        self.target: dict[str, float | None] = {}
        self.qat = False
        self.observers: bool | None = None
        self.bn_frozen: bool | None = None
        self.frozen: set[str] = set()
        self.has_conv_bn = _has_conv_bn(params)
        #: Which pruning instruction's target each parameter reports: SparseML's ``applied_sparsity`` of the
        #: modifier owning it, the last in manager order that selects it (an AC/DC followed by a pruner on the
        #: same weights reports the pruner's None through every AC/DC phase, as SparseML did).
        self.owner: dict[str, int] = {}
        for instruction in sorted(plan.instructions, key=lambda i: i["origin"]["order"]):
            if instruction["op"] in ("prune", "acdc"):
                for name in self.select(instruction["selector"]):
                    self.target[name] = None
                    self.owner[name] = instruction["origin"]["order"]

    def select(self, selector_id: str) -> list[str]:
        if selector_id not in self.names:
            patterns = self.plan.selector(selector_id)["patterns"]
            self.names[selector_id], _ = param_match.resolve(patterns, self.params)
        return self.names[selector_id]

    def step(self, k: int) -> dict[str, Any]:
        epoch = epoch_at(k, self.plan.steps_per_epoch)
        for instruction in self.plan.instructions:
            if instruction["step"] > k:
                break
            getattr(self, "apply_" + instruction["op"])(instruction, k, epoch)
        return self.state(k, epoch)

    def state(self, k: int, epoch: float) -> dict[str, Any]:
        return {
            "step": k,
            "epoch": epoch,
            "lr": list(self.lr),
            "weight_decay": list(self.weight_decay),
            "target_sparsity": dict(self.target),
            "qat": self.qat,
            "qat_observers": self.observers,
            "bn_frozen": self.bn_frozen,
            "frozen": sorted(self.frozen),
        }

    # -- instructions: what each changes is in recipekit.plan.ops; only the bookkeeping is here --
    def apply_note(self, instruction: NoteOp, k: int, epoch: float) -> None:
        """Modifiers the runtime does not execute change nothing here."""

    def _apply_lr(self, instruction: SetLrOp | LrFunctionOp | LrSchedulerOp, k: int, epoch: float) -> None:
        value = ops.lr_at(instruction, k, epoch, self.plan.steps_per_epoch)
        if value is not None:
            for g in _groups(ops.lr_groups(instruction), self.groups):
                self.lr[g] = value

    apply_set_lr = apply_lr_function = apply_lr_scheduler = _apply_lr

    def apply_set_weight_decay(self, instruction: SetWeightDecayOp, k: int, epoch: float) -> None:
        value = ops.weight_decay_at(instruction, k)
        if value is not None:
            for g in _groups(instruction["param_groups"], self.groups):
                self.weight_decay[g] = value

    def apply_prune(self, instruction: PruneOp, k: int, epoch: float) -> None:
        if not ops.prune_update_due(instruction, k):
            return
        final = instruction["final_sparsity"]
        init = instruction["init_sparsity"]
        # Without weights, "the sparsity the weights have" is that of a dense model.
        initial = 0.0 if isinstance(init, str) else init
        for name in self.select(instruction["selector"]):
            if self.owner[name] != instruction["origin"]["order"]:
                continue
            target_final = final if not isinstance(final, dict) else _final_for(name, final, self.params)
            self.target[name] = ops.prune_target(instruction, epoch, initial, target_final)

    def apply_acdc(self, instruction: AcdcOp, k: int, epoch: float) -> None:
        target, _ = ops.acdc_at(instruction, k)
        if target is not None:
            for name in self.select(instruction["selector"]):
                if self.owner[name] == instruction["origin"]["order"]:
                    self.target[name] = target

    def apply_replace_modules(self, instruction: ReplaceModulesOp, k: int, epoch: float) -> None:
        """Swapping modules changes no scheduled value."""

    def apply_distill(self, instruction: DistillOp, k: int, epoch: float) -> None:
        """Distillation changes the loss, not a scheduled value."""

    def apply_hold_mask(self, instruction: HoldMaskOp, k: int, epoch: float) -> None:
        """Holding existing zeros changes no scheduled value."""

    def apply_qat(self, instruction: QatOp, k: int, epoch: float) -> None:
        events = ops.qat_at(instruction, k)
        if events.enable:
            self.qat = True
            self.observers = True
            self.bn_frozen = False if self.has_conv_bn else None
        if events.disable_observers:
            # The legacy flavour's Embedding weight fake-quantizers ignore disable_observer, so with a
            # quantized Embedding some observer stays enabled (the BERT goldens show it).
            self.observers = _quantizes_embeddings(instruction, self.params)
        if events.freeze_bn and self.has_conv_bn:
            self.bn_frozen = True

    def apply_set_trainable(self, instruction: SetTrainableOp, k: int, epoch: float) -> None:
        for change in ops.trainable_at(instruction, k):
            names = self.select(instruction["selector"])
            # "restore" undoes "set": a frozen selection thaws, a thawed one freezes again.
            if (not instruction["trainable"]) if change == "set" else instruction["trainable"]:
                self.frozen.update(names)
            else:
                self.frozen.difference_update(names)


def _final_for(name: str, finals: dict[str, list[str]], params: list[dict[str, Any]]) -> float:
    for sparsity, patterns in finals.items():
        if name in param_match.resolve(patterns, params)[0]:
            return float(sparsity)
    raise KeyError(name)  # pragma: no cover - the selector is the union of these patterns


def _quantizes_embeddings(instruction: QatOp, params: list[dict[str, Any]]) -> bool:
    config: dict[str, Any] = instruction["config"]
    # Only the legacy flavour builds these fake-quantizers; the new one disables every observer.
    if instruction["flavour"] != "legacy" or not config.get("quantize_embeddings", True):
        return False
    roots = config.get("submodules")
    ignored = config.get("exclude_module_types") or []
    for param in params:
        if param.get("module_type") != "Embedding":
            continue
        module = param["name"].rsplit(".", 1)[0]
        inside = roots is None or any(module == r or module.startswith(r + ".") for r in roots)
        if inside and "Embedding" not in ignored:
            return True
    return False


def _has_conv_bn(params: list[dict[str, Any]]) -> bool:
    """Whether SparseML's default conv_bn_relus fusing would create a ConvBn module."""
    modules = [(p["name"].rsplit(".", 1)[0], p.get("module_type") or "") for p in params]
    return bool(param_match.conv_bn_pairs(list(dict.fromkeys(modules))))


def unmatched(plan: Plan, params: list[dict[str, Any]]) -> list[tuple[dict[str, Any], str, str]]:
    """(selector, pattern, hint) for each pattern of a selector the plan uses that matches no parameter.

    The runtime refuses such a plan at attach and `recipe-lint --params` reports it (L320); `expand`
    reports it the same way instead of printing an empty ``target_sparsity``.
    """
    names = [p["name"] for p in params]
    used = {str(dict(i)["selector"]) for i in plan.instructions if "selector" in i}
    found: list[tuple[dict[str, Any], str, str]] = []
    for selector in plan.selectors:
        if selector["id"] not in used:
            continue
        _, missing = param_match.resolve(selector["patterns"], params)
        found.extend((selector, pattern, param_match.unmatched_hint(pattern, names)) for pattern in missing)
    return found


def expand(
    plan: Plan, params: list[dict[str, Any]], param_groups: int = 1, optimizer_lr: float = 0.1, optimizer_weight_decay: float = 0.0
) -> list[dict[str, Any]]:
    """Change-point events: step 0 lists every key, later steps only what changed."""
    simulation = Simulation(plan, params, param_groups, optimizer_lr, optimizer_weight_decay)
    events: list[dict[str, Any]] = []
    previous: dict[str, Any] | None = None
    for k in range(plan.total_steps):
        state = simulation.step(k)
        if previous is None:
            events.append(state)
        else:
            event: dict[str, Any] = {}
            for key, value in state.items():
                if key in ("step", "epoch"):
                    continue
                if key == "target_sparsity":
                    changed = {n: v for n, v in value.items() if previous[key].get(n, "missing") != v}
                    if changed:
                        event[key] = changed
                elif value != previous[key]:
                    event[key] = value
            if event:
                events.append({"step": k, "epoch": state["epoch"], **event})
        previous = state
    return events


def state_at(
    plan: Plan,
    step: int,
    params: list[dict[str, Any]],
    param_groups: int = 1,
    optimizer_lr: float = 0.1,
    optimizer_weight_decay: float = 0.0,
) -> dict[str, Any]:
    """The training state after optimizer step ``step`` (one row of ``recipekit expand``)."""
    simulation = Simulation(plan, params, param_groups, optimizer_lr, optimizer_weight_decay)
    state: dict[str, Any] = {}
    for k in range(step + 1):
        state = simulation.step(k)
    return state
