"""Replay a plan's schedule step by step, without torch (``recipekit expand``).

The state after optimizer step k has the keys of the SparseML goldens:
``lr`` and ``weight_decay`` per param group, ``target_sparsity`` per pruned
parameter, ``qat``, ``qat_observers``, ``bn_frozen`` and ``frozen``.
Instructions of one step apply in the plan's order, which is SparseML's
manager order, so the same modifier wins a conflict as in SparseML.
"""

from __future__ import annotations

from typing import Any

from recipekit.plan import selectors as param_match
from recipekit.plan.model import Plan
from recipekit.plan.schedule import epoch_at, instruction_lr, interpolate, scheduler_lr, update_due


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
        for instruction in plan.instructions:
            if instruction["op"] == "prune":
                for name in self.select(instruction["selector"]):
                    self.target[name] = None

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

    # -- instructions ---------------------------------------------------------
    def apply_note(self, instruction: dict[str, Any], k: int, epoch: float) -> None:
        """Modifiers the runtime does not execute change nothing here."""

    def apply_set_lr(self, instruction: dict[str, Any], k: int, epoch: float) -> None:
        if k == instruction["step"]:
            for g in _groups(instruction["param_groups"], self.groups):
                self.lr[g] = instruction["value"]

    def apply_set_weight_decay(self, instruction: dict[str, Any], k: int, epoch: float) -> None:
        if k == instruction["step"]:
            for g in _groups(instruction["param_groups"], self.groups):
                self.weight_decay[g] = instruction["value"]

    def apply_lr_function(self, instruction: dict[str, Any], k: int, epoch: float) -> None:
        if k > instruction["last_step"]:
            return
        value = instruction_lr(instruction, epoch, self.plan.steps_per_epoch)
        for g in _groups(instruction["param_groups"], self.groups):
            self.lr[g] = value

    def apply_lr_scheduler(self, instruction: dict[str, Any], k: int, epoch: float) -> None:
        last = instruction["last_step"]
        if last is not None and k >= last:
            return
        value = scheduler_lr(instruction, k, epoch)
        for g in range(self.groups):
            self.lr[g] = value

    def apply_prune(self, instruction: dict[str, Any], k: int, epoch: float) -> None:
        if not update_due(instruction["updates"], k):
            return
        final = instruction["final_sparsity"]
        for name in self.select(instruction["selector"]):
            target_final = final if not isinstance(final, dict) else _final_for(name, final, self.params)
            init = instruction["init_sparsity"]
            init_value = 0.0 if init == "__FROM_PARAM__" else init
            self.target[name] = interpolate(
                epoch, instruction["start_epoch"], instruction["end_epoch"], init_value, target_final, instruction["inter_func"]
            )

    def apply_distill(self, instruction: dict[str, Any], k: int, epoch: float) -> None:
        """Distillation changes the loss, not a scheduled value."""

    def apply_hold_mask(self, instruction: dict[str, Any], k: int, epoch: float) -> None:
        """Holding existing zeros changes no scheduled value."""

    def apply_qat(self, instruction: dict[str, Any], k: int, epoch: float) -> None:
        if k == instruction["step"]:
            self.qat = True
            self.observers = True
            self.bn_frozen = False if self.has_conv_bn else None
        if instruction["observer_step"] is not None and k == max(instruction["observer_step"], instruction["step"]):
            # The legacy flavour's Embedding weight fake-quantizers ignore disable_observer, so with a
            # quantized Embedding some observer stays enabled (the BERT goldens show it).
            self.observers = _quantizes_embeddings(instruction, self.params)
        if instruction["freeze_bn_step"] is not None and self.has_conv_bn and k == max(instruction["freeze_bn_step"], instruction["step"]):
            self.bn_frozen = True

    def apply_set_trainable(self, instruction: dict[str, Any], k: int, epoch: float) -> None:
        names = self.select(instruction["selector"])
        if k == instruction["step"]:
            if instruction["trainable"]:
                self.frozen.difference_update(names)
            else:
                self.frozen.update(names)
        if instruction["restore_step"] is not None and k == instruction["restore_step"]:
            if instruction["trainable"]:
                self.frozen.update(names)
            else:
                self.frozen.difference_update(names)


def _final_for(name: str, finals: dict[str, list[str]], params: list[dict[str, Any]]) -> float:
    for sparsity, patterns in finals.items():
        if name in param_match.resolve(patterns, params)[0]:
            return float(sparsity)
    raise KeyError(name)  # pragma: no cover - the selector is the union of these patterns


def _quantizes_embeddings(instruction: dict[str, Any], params: list[dict[str, Any]]) -> bool:
    config = instruction["config"]
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
