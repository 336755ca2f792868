"""`recipekit show`: a plan as a readable timeline, and optionally as a plot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from recipekit.plan import ops
from recipekit.plan.model import Plan
from recipekit.plan.ops import Instruction, PruneOp
from recipekit.plan.schedule import epoch_at
from recipekit.plan.simulate import Simulation

#: Longest plan `--plot` simulates step by step; the shape is the same at fewer steps per epoch.
MAX_PLOT_STEPS = 500_000


def _epoch(plan: Plan, step: int | None) -> str:
    return "end of training" if step is None else f"epoch {epoch_at(step, plan.steps_per_epoch):g} (step {step})"


def _describe(plan: Plan, typed: Instruction) -> str:
    instruction: dict[str, Any] = dict(typed)  # read field by field, whatever the op
    op = instruction["op"]
    groups = instruction.get("param_groups")
    where = "" if groups is None else f" in param groups {groups}"
    if op == "set_lr":
        return f"set LR to {instruction['value']:g}{where}"
    if op == "set_weight_decay":
        return f"set weight decay to {instruction['value']:g}{where}"
    if op == "lr_function":
        until = _epoch(plan, instruction["last_step"])
        return f"{instruction['func']} LR {instruction['init_lr']:g} -> {instruction['final_lr']:g}{where} every step until {until}"
    if op == "lr_scheduler":
        end = instruction["last_step"]
        return f"{instruction['lr_class']} from LR {instruction['init_lr']:g} until {_epoch(plan, end)}"
    if op == "prune":
        patterns = plan.selector(instruction["selector"])["patterns"]
        shown = ", ".join(patterns[:3]) + (f" (+{len(patterns) - 3})" if len(patterns) > 3 else "")
        final = instruction["final_sparsity"]
        final_text = f"{final:g}" if isinstance(final, (int, float)) else "per-param " + ", ".join(final)
        updates = instruction["updates"]
        count = updates["every_step"][1] - updates["every_step"][0] + 1 if "every_step" in updates else len(updates["steps"])
        how = f"{instruction['inter_func']}, {count} mask updates, {instruction['mask_type']}"
        return f"prune {shown}: {instruction['init_sparsity']} -> {final_text} ({how})"
    if op == "hold_mask":
        patterns = ", ".join(plan.selector(instruction["selector"])["patterns"][:3])
        return f"hold zeros of {patterns} until {_epoch(plan, instruction['end_step'])}"
    if op == "acdc":
        phases, sparsity = len(instruction["phases"]), instruction["compression_sparsity"]
        return f"AC/DC on {_patterns(plan, instruction)}: {phases} phases, dense and {sparsity:g} sparse in turn"
    if op == "qat":
        # The two QuantizationModifiers SparseML 1.8 has, in the words its docs use.
        if instruction["flavour"] == "legacy":
            return "start QAT (legacy QuantizationModifier: submodules / exclude_module_types)"
        return "start QAT (QuantizationModifier: scheme / scheme_overrides / ignore)"
    if op == "set_trainable":
        state = "trainable" if instruction["trainable"] else "frozen"
        return f"make {_patterns(plan, instruction)} {state}"
    if op == "replace_modules":
        return f"remove layers {', '.join(instruction['modules'][:3])} (LayerPruningModifier)"
    if op == "distill":
        return f"distill from the teacher until {_epoch(plan, instruction['last_step'])}"
    if instruction["origin"]["modifier"] == "EpochRangeModifier":
        return "EpochRangeModifier sets the training length"
    return f"{instruction['origin']['modifier']} (recorded, not executed)"


def _patterns(plan: Plan, instruction: dict[str, Any]) -> str:
    patterns = plan.selector(instruction["selector"])["patterns"]
    return ", ".join(patterns[:3]) + (f" (+{len(patterns) - 3})" if len(patterns) > 3 else "")


def _later_events(plan: Plan, typed: Instruction) -> list[tuple[int, str]]:
    """The other steps an instruction schedules (observer stop, BN freeze, a mask's release, a restore)."""
    instruction: dict[str, Any] = dict(typed)
    op = instruction["op"]
    events: list[tuple[int, str]] = []
    if op == "qat":
        if instruction["observer_step"] is not None:
            events.append((instruction["observer_step"], "stop QAT observers: scales freeze (disable_quantization_observer_epoch)"))
        if instruction["freeze_bn_step"] is not None:
            events.append((instruction["freeze_bn_step"], "freeze BatchNorm statistics (freeze_bn_stats_epoch)"))
    elif op in ("prune", "acdc") and not instruction["leave_enabled"] and instruction["end_step"] is not None:
        message = f"release the masks of {_patterns(plan, instruction)} (leave_enabled: false): pruned weights may grow back"
        events.append((instruction["end_step"], message))
    elif op == "set_trainable" and instruction["restore_step"] is not None:
        state = "frozen" if instruction["trainable"] else "trainable"
        events.append((instruction["restore_step"], f"make {_patterns(plan, instruction)} {state} again"))
    elif op == "replace_modules" and instruction["restore_step"] is not None:
        events.append((instruction["restore_step"], f"restore layers {', '.join(instruction['modules'][:3])}"))
    return events


LR_OPS = ("set_lr", "lr_function", "lr_scheduler")


def first_lr_step(plan: Plan) -> int | None:
    """The first step at which the recipe sets the LR; before it the LR is the optimizer's own."""
    steps = [i["step"] for i in plan.instructions if i["op"] in LR_OPS]
    return min(steps) if steps else None


def timeline(plan: Plan) -> str:
    lines = [
        f"{plan.recipe_path}: {plan.total_steps} steps = {plan.max_epochs} epochs x {plan.steps_per_epoch:g} steps per epoch",
    ]
    events: list[tuple[int, int, str]] = []
    first_lr = first_lr_step(plan)
    if first_lr is None:
        events.append((0, -1, "LR: the optimizer's own throughout (the recipe sets none)"))
    elif first_lr > 0:
        events.append((0, -1, f"LR: the optimizer's own until {_epoch(plan, first_lr)}, where the recipe sets it"))
    for position, instruction in enumerate(plan.instructions):
        origin = instruction["origin"]
        where = f"  [{origin['modifier']} at line {origin['line']}]"
        events.append((instruction["step"], position, _describe(plan, instruction) + where))
        events.extend((step, position, text + where) for step, text in _later_events(plan, instruction))
    for step, _, text in sorted(events, key=lambda e: (e[0], e[1])):
        lines.append(f"  {_epoch(plan, step):>28}  {text}")
    lines.append(f"  {_epoch(plan, plan.total_steps):>28}  training ends")
    return "\n".join(lines) + "\n"


def _sparsity_curve(plan: Plan, instruction: PruneOp, epochs: list[float]) -> list[float | None]:
    final = instruction["final_sparsity"]
    final_value = float(max(final, key=float)) if isinstance(final, dict) else float(final)
    init = instruction["init_sparsity"]
    init_value = 0.0 if isinstance(init, str) else float(init)
    values: list[float | None] = []
    current: float | None = None
    for step, epoch in enumerate(epochs):
        if ops.prune_update_due(instruction, step):
            current = ops.prune_target(instruction, epoch, init_value, final_value)
        values.append(current)
    return values


def plot_schedule(plan: Plan, path: Path) -> None:
    """LR, target sparsity per pruning instruction and QAT start against epochs, to a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if plan.total_steps > MAX_PLOT_STEPS:
        raise ValueError(f"plan has {plan.total_steps} steps; compile with fewer steps per epoch to plot it")
    simulation = Simulation(plan, [], 1)
    epochs = [epoch_at(k, plan.steps_per_epoch) for k in range(plan.total_steps)]
    lrs = [simulation.step(k)["lr"][0] for k in range(plan.total_steps)]
    figure, (lr_axis, sparsity_axis) = plt.subplots(2, 1, sharex=True, figsize=(9, 6))
    # Before the recipe sets the LR it is the optimizer's (drawn at expand's default), not the recipe's.
    first_lr = first_lr_step(plan)
    own = plan.total_steps if first_lr is None else min(first_lr + 1, plan.total_steps)
    if own:
        lr_axis.plot(epochs[:own], lrs[:own], color="tab:gray", linestyle="--", label="the optimizer's LR (not set by the recipe)")
    if first_lr is not None:
        lr_axis.plot(epochs[first_lr:], lrs[first_lr:], color="tab:blue", label="the recipe's LR")
    lr_axis.legend(loc="upper right", fontsize="small")
    lr_axis.set_ylabel("learning rate")
    for instruction in plan.instructions:
        if instruction["op"] == "prune":
            patterns = plan.selector(instruction["selector"])["patterns"]
            label = patterns[0] + (f" (+{len(patterns) - 1})" if len(patterns) > 1 else "")
            sparsity_axis.plot(epochs, _sparsity_curve(plan, instruction, epochs), label=label)
        if instruction["op"] == "qat":
            for axis in (lr_axis, sparsity_axis):
                axis.axvline(
                    epoch_at(instruction["step"], plan.steps_per_epoch),
                    color="tab:purple",
                    linestyle="--",
                    label="QAT starts" if axis is sparsity_axis else None,
                )
    for axis in (lr_axis, sparsity_axis):
        axis.axvline(plan.max_epochs, color="black", linewidth=1, label="training ends" if axis is sparsity_axis else None)
    sparsity_axis.set_ylabel("target sparsity")
    sparsity_axis.set_xlabel("epoch")
    sparsity_axis.set_ylim(0, 1)
    handles, _ = sparsity_axis.get_legend_handles_labels()
    if handles:
        sparsity_axis.legend(loc="lower right", fontsize="small")
    figure.suptitle(Path(plan.recipe_path).name)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
