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

from collections.abc import Callable, Iterator, Sequence

from recipekit.compiler.refusals import Problem, span_of, written_patterns
from recipekit.ir import GRADUAL_PRUNERS, Modifier
from recipekit.source import Source

DIAGONAL_FISHER = "L380"
SAMPLING_NEVER_PRUNES = "L381"
SAMPLING_SKIPS_OPTIMIZER = "L382"
DISTILLATION_WINDOW = "L383"
QAT_LOSES_SPARSITY = "L332"
SEVERAL_QUANTIZERS = "L334"

#: Each code's kebab-case name; the rule modules take theirs from here, so there is one of each.
NAMES = {
    DIAGONAL_FISHER: "diagonal-fisher",
    SAMPLING_NEVER_PRUNES: "sampling-never-prunes",
    SAMPLING_SKIPS_OPTIMIZER: "sampling-skips-optimizer",
    DISTILLATION_WINDOW: "distillation-window",
    QAT_LOSES_SPARSITY: "qat-loses-sparsity",
    SEVERAL_QUANTIZERS: "several-quantizers",
}

#: Parameter names a modifier selects in the model, or None without a model (then patterns are compared as written).
Matcher = Callable[[Modifier], "set[str] | None"]


def _no_model(modifier: Modifier) -> set[str] | None:
    return None


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
    # An end before the start is L301 (SparseML refused it at load), not this trap.
    if 0 <= end <= max(start, 0.0) and not end < start:
        yield (
            span_of(modifier, "end_epoch"),
            (
                f"the distillation window ends at epoch {end}, not after it starts: only its first step is distilled; "
                "use end_epoch -1 or the epoch distillation should stop"
            ),
        )


def unheld_pruners(modifiers: Sequence[Modifier], matched: Matcher = _no_model) -> Iterator[tuple[Modifier, Modifier]]:
    """(QAT, pruner) for each gradual pruner before QAT whose masks nothing holds through QAT."""
    quantizers = [m for m in modifiers if m.type == "QuantizationModifier"]
    if not quantizers:
        return
    qat = quantizers[0]
    qat_start = max(float(qat.value("start_epoch")), 0.0)
    for pruner in modifiers:
        if pruner.type not in GRADUAL_PRUNERS or pruner.value("leave_enabled") or pruner.value("start_epoch") >= qat_start:
            continue
        pruned, pruned_names = set(written_patterns(pruner)), matched(pruner)
        held = False
        for holder in modifiers:
            if holder.type != "ConstantPruningModifier":
                continue
            start, end = max(holder.value("start_epoch"), 0.0), holder.value("end_epoch")
            if start <= qat_start and end == -1:
                holder_names = matched(holder)
                if holder_names is not None and pruned_names is not None:
                    held = held or pruned_names <= holder_names
                else:
                    patterns = set(written_patterns(holder))
                    held = held or "__ALL__" in patterns or pruned <= patterns
        if not held:
            yield qat, pruner


def qat_loses_sparsity(modifiers: Sequence[Modifier], source: Source, matched: Matcher = _no_model) -> Iterator[Problem]:
    """QAT on pruned weights whose masks are not held through it: SparseML trained the zeros away, silently."""
    for qat, pruner in unheld_pruners(modifiers, matched):
        qat_start = max(float(qat.value("start_epoch")), 0.0)
        yield (
            qat.span,
            (
                f"QAT starts at epoch {qat_start} but the masks of the pruner at line {source.line_col(pruner.span.start)[0]} are "
                "not held through it: sparsity will be lost (SparseML trained the zeros away without a word). Hold them with "
                "leave_enabled: true or a ConstantPruningModifier"
            ),
        )


def several_quantizers(modifiers: Sequence[Modifier]) -> Iterator[Problem]:
    """A second QuantizationModifier: SparseML 1.8 wrapped the model in fake-quantization a second time, silently."""
    quantizers = [m for m in modifiers if m.type == "QuantizationModifier"]
    for extra in quantizers[1:]:
        yield (
            extra.span,
            (
                "a second QuantizationModifier: quantization cannot be applied twice (SparseML 1.8 wrapped the model in "
                "fake-quantization again at its start, nesting the quantizers; the recipekit runtime refuses it at attach). "
                "Use one modifier: scheme_overrides and ignore give layers different settings"
            ),
        )
