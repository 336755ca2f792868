"""Where SparseML ran silently but not as the recipe reads, for the training algorithms, judged once on the IR.

The companion of ``refusals.py`` (what SparseML crashed on): each predicate yields
``(span, message)`` for one trap and names it by one code, the lint rule's.
`recipe-lint` reports them through those rules (``lint_rules/<name>.py`` holds each
one's documentation and examples), and `recipekit compile` warns with the same code,
span and message (``lower.py``), so a user meets one trap under one code in both
commands.  They were compile-only warnings C424, C422, C423 and C426 before
(``diagnostics.RENUMBERED``).
"""

from __future__ import annotations

from collections.abc import Iterator

from recipekit.compiler.refusals import Problem, span_of
from recipekit.ir import Modifier

DIAGONAL_FISHER = "L380"
SAMPLING_NEVER_PRUNES = "L381"
SAMPLING_SKIPS_OPTIMIZER = "L382"
DISTILLATION_WINDOW = "L383"

#: Each code's kebab-case name; the rule modules take theirs from here, so there is one of each.
NAMES = {
    DIAGONAL_FISHER: "diagonal-fisher",
    SAMPLING_NEVER_PRUNES: "sampling-never-prunes",
    SAMPLING_SKIPS_OPTIMIZER: "sampling-skips-optimizer",
    DISTILLATION_WINDOW: "distillation-window",
}

SAMPLING_PRUNERS = ("OBSPruningModifier", "MFACPruningModifier")


def sampling_never_prunes(modifier: Modifier, steps_per_epoch: float | None) -> Iterator[Problem]:
    """OBS or M-FAC at 1 step per epoch: SparseML took that for one-shot and returned early from every pruning step."""
    if modifier.type not in SAMPLING_PRUNERS or steps_per_epoch != 1:
        return
    yield (
        modifier.span,
        (
            f"{modifier.type} never prunes at 1 step per epoch: SparseML returns early from every pruning step "
            "(it takes spe 1 for one-shot); the plan keeps no updates. Compile with the real steps per epoch"
        ),
    )


#: A sampling pruner is flagged when its updates would take at least one optimizer step in this many.
LOST_STEP_SHARE = 10


def sampling_skips_optimizer(modifier: Modifier, steps_per_epoch: float | None) -> Iterator[Problem]:
    """OBS (and M-FAC given a grad sampler) pruning steps lose their optimizer update, at least one step in ten.

    SparseML's sampler clears the gradients inside the training step, so each pruning step's
    optimizer update does nothing. Reported at update_frequency when the updates come at least
    every ``LOST_STEP_SHARE`` steps (which needs the steps per epoch).
    """
    if modifier.type not in SAMPLING_PRUNERS:
        return
    if modifier.type == "MFACPruningModifier" and modifier.value("use_gradient_buffering") is True:
        return
    if steps_per_epoch is None:
        return
    frequency = float(modifier.value("update_frequency"))
    every = 1.0 if frequency <= 0 else frequency * steps_per_epoch
    if every >= LOST_STEP_SHARE:
        return
    what = "OBS" if modifier.type == "OBSPruningModifier" else "with a grad sampler, M-FAC"
    yield (
        span_of(modifier, "update_frequency"),
        (
            f"{what} prunes every {max(every, 1.0):g} steps and each pruning step loses its optimizer update, as in SparseML "
            "(drawing gradient samples clears the gradients): raise update_frequency"
            + ("" if modifier.type == "OBSPruningModifier" else ", or set use_gradient_buffering: true")
        ),
    )


def diagonal_fisher(modifier: Modifier) -> Iterator[Problem]:
    """OBS with fisher_block_size 1 (the code's default): a diagonal Fisher, so pruned weights are not compensated."""
    if modifier.type != "OBSPruningModifier" or modifier.value("fisher_block_size") != 1:
        return
    yield (
        span_of(modifier, "fisher_block_size"),
        (
            "fisher_block_size is 1 (SparseML's default, though its docs say 50): a diagonal Fisher, so pruned weights "
            "are not compensated; the oBERT recipes set 50"
        ),
    )


def distillation_window(modifier: Modifier) -> Iterator[Problem]:
    """A DistillationModifier whose end_epoch is not after its start: at most one step is distilled."""
    if modifier.type != "DistillationModifier":
        return
    start, end = float(modifier.value("start_epoch")), float(modifier.value("end_epoch"))
    if 0 <= end <= max(start, 0.0):
        yield (
            span_of(modifier, "end_epoch"),
            (
                f"the distillation window ends at epoch {end}, not after it starts: only its first step is distilled; "
                "use end_epoch -1 or the epoch distillation should stop"
            ),
        )
