"""What SparseML crashed on, judged once on the IR.

Each predicate yields ``(span, message)`` for one defect and names it by one
code: the lint rule's.  `recipe-lint` reports them through those rules
(``lint_rules/<name>.py`` holds each one's documentation and examples), and
`recipekit compile` refuses with the same code, span and message (``lower.py``),
so a user meets one defect under one code in both commands.  The checks that
need ``steps_per_epoch`` (C408, C413) stay in ``lower.py``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from itertools import pairwise

from recipekit.ir import GRADUAL_PRUNERS, Modifier
from recipekit.source import Source, Span
from recipekit.suggest import did_you_mean

Problem = tuple[Span, str]

END_BEFORE_START = "L301"
ZERO_LENGTH_RAMP = "L302"
BAD_MASK_TYPE = "L313"
NM_RAMP = "L314"
FISHER_BLOCK_SIZE = "L315"
INVALID_REGEX = "L321"
QAT_EPOCHS_BEFORE_START = "L331"
LR_KWARGS = "L340"
MILESTONES = "L341"

#: Each code's kebab-case name; the rule modules take theirs from here, so there is one of each.
NAMES = {
    END_BEFORE_START: "end-before-start",
    ZERO_LENGTH_RAMP: "zero-length-ramp",
    BAD_MASK_TYPE: "bad-mask-type",
    NM_RAMP: "nm-ramp",
    FISHER_BLOCK_SIZE: "fisher-block-size",
    INVALID_REGEX: "invalid-regex",
    QAT_EPOCHS_BEFORE_START: "qat-epochs-before-start",
    LR_KWARGS: "lr-kwargs",
    MILESTONES: "milestones",
}

#: The arguments SparseML passes to each torch scheduler class (in SparseML's spelling).
LR_KWARGS_NEEDED = {
    "StepLR": ("step_size", "gamma"),
    "MultiStepLR": ("milestones", "gamma"),
    "ExponentialLR": ("gamma",),
    "CosineAnnealingWarmRestarts": ("lr_min", "cycle_epochs"),
}
#: The modifiers whose end must come after the start, -1 included (SparseML's ``end_comparator=1``).
NEEDS_AN_END = ("LearningRateFunctionModifier", "GradualParamModifier")
KNOWN_MASKS = ("unstructured", "block4", "tensorrt")
#: OBS builds only these (SparseML's OBSPruningModifier raises ValueError at load for any other).
OBS_MASKS = ("unstructured", "block4")
_NM = re.compile(r"(\d+):(\d+)")


def span_of(modifier: Modifier, name: str) -> Span:
    """The value's span, or the modifier's tag when the value was defaulted."""
    param = modifier.params.get(name)
    return param.span if param is not None and param.span is not None else modifier.span


def written_patterns(modifier: Modifier) -> list[str]:
    """The parameter patterns a modifier selects, as written (a final_sparsity mapping's too)."""
    value = modifier.value("params") if "params" in modifier.params else []
    final = modifier.params.get("final_sparsity")
    if final is not None and isinstance(final.value, dict):
        return [p for names in final.value.values() for p in names]
    if value == []:
        return ["__ALL_PRUNABLE__"]
    return [value] if isinstance(value, str) else list(value)


def end_before_start(modifier: Modifier) -> Iterator[Problem]:
    """An end_epoch before start_epoch: SparseML's ``validate_schedule`` raised ValueError when the recipe loaded.

    -1 is not an epoch here: it means "never ends" (a parameter the modifier ignores is no end either).
    """
    if "start_epoch" not in modifier.params or "end_epoch" not in modifier.params or modifier.params["end_epoch"].ignored:
        return
    start, end = modifier.value("start_epoch"), modifier.value("end_epoch")
    if end == -1 and modifier.type in NEEDS_AN_END:
        message = f"{modifier.type} needs an end_epoch after start_epoch ({start}), not -1: SparseML refuses the recipe when it loads"
        yield span_of(modifier, "end_epoch"), message
    elif end != -1 and end < start:
        yield (
            span_of(modifier, "end_epoch"),
            f"end_epoch ({end}) is before start_epoch ({start}): SparseML refuses the recipe when it loads; "
            "swap them or use -1 to never end",
        )


def zero_length_ramp(modifier: Modifier) -> Iterator[Problem]:
    """A pruning ramp (or LR function) with start_epoch == end_epoch."""
    if modifier.type not in GRADUAL_PRUNERS and modifier.type != "LearningRateFunctionModifier":
        return
    start, end = modifier.value("start_epoch"), modifier.value("end_epoch")
    if start == end:
        what = "SparseML divides by zero at the first update" if modifier.type in GRADUAL_PRUNERS else "SparseML refuses an empty range"
        yield span_of(modifier, "end_epoch"), f"start_epoch and end_epoch are both {end}: {what}; make the ramp at least one update long"


def bad_mask_type(modifier: Modifier) -> Iterator[Problem]:
    """A mask_type SparseML cannot build for this modifier."""
    if modifier.type not in GRADUAL_PRUNERS:
        return
    mask = modifier.value("mask_type")
    if isinstance(mask, list):
        if len(mask) < 2 or any(not isinstance(v, int) or isinstance(v, bool) or (v < 1 and v != -1) for v in mask):
            yield span_of(modifier, "mask_type"), f"block mask {mask} must be [rows, cols] of positive integers (-1 for a whole dimension)"
        return
    if modifier.type == "OBSPruningModifier" and mask not in OBS_MASKS:
        yield (
            span_of(modifier, "mask_type"),
            f"OBSPruningModifier supports mask_type unstructured or block4, not {mask!r} (SparseML raises ValueError at load)",
        )
        return
    if mask in KNOWN_MASKS or _NM.fullmatch(str(mask)):
        return
    if modifier.type == "StructuredPruningModifier" and mask in ("channel", "filter"):
        return
    if mask in ("channel", "filter"):
        message = f"mask_type {mask} works only with StructuredPruningModifier; SparseML fails when training starts"
    else:
        hint = did_you_mean(str(mask), KNOWN_MASKS)
        message = f"unknown mask_type {mask!r}{hint}; use unstructured, block4, N:M such as 2:4, or [rows, cols]"
    yield span_of(modifier, "mask_type"), message


def fisher_block_size(modifier: Modifier) -> Iterator[Problem]:
    """OBS with block4 masks and a fisher_block_size not divisible by 4: SparseML raises ValueError."""
    if modifier.type != "OBSPruningModifier" or modifier.value("mask_type") != "block4":
        return
    block = modifier.value("fisher_block_size")
    if isinstance(block, int) and block % 4:
        yield (
            span_of(modifier, "fisher_block_size"),
            f"block4 needs a fisher_block_size divisible by 4, not {block} (SparseML raises ValueError)",
        )


def nm_ramp(modifier: Modifier) -> Iterator[Problem]:
    """An N:M mask asked for a sparsity other than 1 - N/M."""
    if modifier.type not in GRADUAL_PRUNERS:
        return
    mask = modifier.value("mask_type")
    match = _NM.fullmatch(mask) if isinstance(mask, str) else None
    if not match and mask != "tensorrt":
        return
    n, m = (int(match.group(1)), int(match.group(2))) if match else (2, 4)
    ratio = 1 - n / m
    for name in ("init_sparsity", "final_sparsity"):
        value = modifier.value(name)
        values = list(value) if isinstance(value, dict) else [value]
        if any(isinstance(v, float) and v != 0.0 and abs(v - ratio) > 1e-2 for v in values):
            message = (
                f"{name} {value} with an N:M mask ({mask}): SparseML only reaches {ratio} and fails at any other target; set it to {ratio}"
            )
            yield span_of(modifier, name), message
            return


def invalid_regex(modifier: Modifier, source: Source) -> Iterator[Problem]:
    """A `re:` parameter pattern that is not a valid regular expression (SparseML raised re.error when training started)."""
    if "params" not in modifier.params and "final_sparsity" not in modifier.params:
        return
    for pattern in written_patterns(modifier):
        if not isinstance(pattern, str) or not pattern.startswith("re:"):
            continue
        try:
            re.compile(pattern[3:])
        except re.error as error:
            final = modifier.params.get("final_sparsity")
            where = "final_sparsity" if final is not None and isinstance(final.value, dict) else "params"
            span = source.item_span(span_of(modifier, where), pattern)
            yield span, f"invalid regular expression {pattern!r}: {error}; escape ( [ + and the like"


def qat_epochs_before_start(modifier: Modifier) -> Iterator[Problem]:
    """An observer-disable or BN-freeze epoch before QAT starts: SparseML rejects it."""
    if modifier.type != "QuantizationModifier":
        return
    start = modifier.value("start_epoch")
    if start == -1:
        return
    for name in ("disable_quantization_observer_epoch", "freeze_bn_stats_epoch"):
        value = modifier.value(name)
        if value is not None and value < start:
            yield span_of(modifier, name), f"{name} {value} is before QAT starts at epoch {start}; SparseML rejects this"


def lr_kwargs(modifier: Modifier) -> Iterator[Problem]:
    """lr_kwargs that the scheduler class lacks, does not take, or with values it cannot use."""
    if modifier.type != "LearningRateModifier":
        return
    lr_class = modifier.value("lr_class")
    expected = LR_KWARGS_NEEDED[lr_class]
    given = modifier.value("lr_kwargs")
    span = span_of(modifier, "lr_kwargs")
    for key in given:
        if key not in expected:
            yield span, f"{lr_class} does not take {key!r}{did_you_mean(key, expected)}"
    missing = [k for k in expected if k not in given]
    if missing:
        yield span, f"{lr_class} needs {' and '.join(missing)} in lr_kwargs"
        return
    for key in expected:
        value = given[key]
        if key == "milestones":
            if not isinstance(value, list) or not all(_is_number(m) for m in value):
                yield span, f"lr_kwargs.milestones must be a list of epochs, not {value!r}"
        elif not _is_number(value):
            yield span, f"lr_kwargs.{key} must be a number, not {value!r}"
        elif key in ("step_size", "cycle_epochs", "gamma") and value <= 0:
            yield span, f"lr_kwargs.{key} must be positive, not {value!r}"


def milestones(modifier: Modifier, *, crashes_only: bool = False) -> Iterator[Problem]:
    """MultiStepLR milestones outside (start_epoch, end_epoch), where SparseML fails; not increasing, which SparseML ran.

    ``crashes_only`` leaves out the order (`recipekit compile` refuses only what SparseML failed on,
    and warns about the order through :func:`milestones_order`).
    """
    if modifier.type != "LearningRateModifier" or modifier.value("lr_class") != "MultiStepLR":
        return
    values = modifier.value("lr_kwargs").get("milestones")
    if not isinstance(values, list) or not all(_is_number(m) for m in values):
        return  # lr_kwargs() reports it
    span = span_of(modifier, "lr_kwargs")
    start, end = modifier.value("start_epoch"), modifier.value("end_epoch")
    if not crashes_only:
        yield from milestones_order(modifier)
    outside = [m for m in values if m <= start or (end >= 0 and m >= end)]
    if outside:
        bounds = f"after start_epoch {start}" + (f" and before end_epoch {end}" if end >= 0 else "")
        yield span, f"milestones {outside} must lie {bounds}; SparseML fails at the first scheduler step"


def milestones_order(modifier: Modifier) -> Iterator[Problem]:
    """MultiStepLR milestones that do not increase strictly: SparseML ran them (torch counts them), not as the list reads."""
    if modifier.type != "LearningRateModifier" or modifier.value("lr_class") != "MultiStepLR":
        return
    values = modifier.value("lr_kwargs").get("milestones")
    if not isinstance(values, list) or not all(_is_number(m) for m in values):
        return
    if any(b <= a for a, b in pairwise(values)):
        message = (
            f"milestones {values} must increase strictly: SparseML ran them as torch's MultiStepLR does, counting each one "
            "in any order (a repeated milestone decays the LR twice); sort them and drop repeats"
        )
        yield span_of(modifier, "lr_kwargs"), message


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
