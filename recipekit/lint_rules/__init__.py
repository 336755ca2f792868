"""The lint rules, one module per rule, in an explicit registry.

Each module has ``CODE`` (``L3xx``), ``NAME`` (kebab-case), ``SEVERITY`` and
``check(ctx) -> Iterator[Finding]``, and a docstring with a summary line, why
it matters, and ``Bad:`` / ``Good:`` YAML examples. ``tests/test_rule_docs.py``
runs every example and ``docs/rules.md`` is generated from the docstrings.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from recipekit.diagnostics import CODES, Code, Severity
from recipekit.lint_rules import (
    after_training_end,
    bad_mask_type,
    coerced_string,
    conflicting_lr,
    ddp_prefix,
    end_before_start,
    epoch_between_steps,
    ignored_parameter,
    invalid_regex,
    legacy_embedding_observers,
    low_final_sparsity,
    lr_kwargs,
    lr_start_minus_one,
    milestones,
    nm_ramp,
    not_executed,
    overlapping_pruners,
    prunable_embeddings,
    prunes_1d,
    prunes_folded_batchnorm,
    pruning_frozen,
    qat_during_ramp,
    qat_epochs_before_start,
    qat_loses_sparsity,
    qat_never_observes,
    qat_not_exportable,
    ramp_never_ends,
    regex_prefix,
    released_mask,
    set_lr_inside_schedule,
    several_epoch_ranges,
    several_quantizers,
    sparsity_decreases,
    stripped_key,
    unmatched_params,
    untouched_prunable,
    unused_variable,
    update_every_step,
    update_frequency_drift,
    update_frequency_range,
    v2_duplicate_modifier,
    v2_group_key,
    v2_group_size,
    v2_list_not_mapping,
    v2_modifiers_outside_stage,
    v2_scheme_and_config_groups,
    v2_stage_key,
    v2_start_minus_one,
    v2_unmatched_targets,
    yaml11_value,
    zero_length_ramp,
)
from recipekit.lint_rules._context import Finding, LintContext


class Rule(Protocol):
    CODE: str
    NAME: str
    SEVERITY: Severity
    __doc__: str | None

    def check(self, ctx: LintContext) -> Iterator[Finding]: ...


_MODULES: tuple[Rule, ...] = (
    end_before_start,
    zero_length_ramp,
    ramp_never_ends,
    update_frequency_range,
    update_every_step,
    after_training_end,
    ignored_parameter,
    several_epoch_ranges,
    sparsity_decreases,
    low_final_sparsity,
    bad_mask_type,
    nm_ramp,
    overlapping_pruners,
    pruning_frozen,
    released_mask,
    unmatched_params,
    invalid_regex,
    regex_prefix,
    prunes_1d,
    prunes_folded_batchnorm,
    prunable_embeddings,
    ddp_prefix,
    untouched_prunable,
    qat_epochs_before_start,
    qat_loses_sparsity,
    qat_during_ramp,
    several_quantizers,
    qat_never_observes,
    legacy_embedding_observers,
    qat_not_exportable,
    lr_kwargs,
    milestones,
    conflicting_lr,
    set_lr_inside_schedule,
    lr_start_minus_one,
    epoch_between_steps,
    update_frequency_drift,
    yaml11_value,
    unused_variable,
    coerced_string,
    stripped_key,
    not_executed,
    v2_duplicate_modifier,
    v2_group_key,
    v2_group_size,
    v2_list_not_mapping,
    v2_modifiers_outside_stage,
    v2_scheme_and_config_groups,
    v2_stage_key,
    v2_start_minus_one,
    v2_unmatched_targets,
)

RULES: dict[str, Rule] = {module.CODE: module for module in sorted(_MODULES, key=lambda m: m.CODE)}


def codes() -> dict[str, Code]:
    """Every diagnostic code, sorted: the core table plus one per rule (summary = the docstring's first line)."""
    table = dict(CODES)
    for rule in RULES.values():
        table[rule.CODE] = Code(rule.CODE, rule.NAME, rule.SEVERITY, (rule.__doc__ or "").strip().splitlines()[0])
    return dict(sorted(table.items()))


def get(code: str) -> Rule:
    try:
        return RULES[code.upper()]
    except KeyError:
        raise ValueError(f"no rule {code!r}") from None
