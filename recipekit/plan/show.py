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
    if op == "qat":
        return f"start QAT ({instruction['flavour']} flavour)"
    if op == "set_trainable":
        state = "trainable" if instruction["trainable"] else "frozen"
        return f"make {', '.join(plan.selector(instruction['selector'])['patterns'][:3])} {state}"
    if instruction["origin"]["modifier"] == "EpochRangeModifier":
        return "EpochRangeModifier sets the training length"
    return f"{instruction['origin']['modifier']} (recorded, not executed)"


def timeline(plan: Plan) -> str:
    lines = [
        f"{plan.recipe_path}: {plan.total_steps} steps = {plan.max_epochs} epochs x {plan.steps_per_epoch:g} steps per epoch",
    ]
    for instruction in plan.instructions:
        origin = instruction["origin"]
        lines.append(
            f"  {_epoch(plan, instruction['step']):>28}  {_describe(plan, instruction)}  [{origin['modifier']} at line {origin['line']}]"
        )
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
    lr_axis.plot(epochs, lrs, color="tab:blue")
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
