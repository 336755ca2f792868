"""The lint rules, one module per rule, in an explicit registry.

Each module has ``CODE`` (``L3xx``), ``NAME`` (kebab-case), ``SEVERITY`` and
``check(ctx) -> Iterator[Finding]``, and a docstring with a summary line, why
it matters, and ``Bad:`` / ``Good:`` YAML examples. ``tests/test_rule_docs.py``
runs every example and ``docs/rules.md`` is generated from the docstrings.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Protocol, cast

from recipekit.diagnostics import CODES, Code, Severity

if TYPE_CHECKING:
    from recipekit.lint_rules._context import Finding, LintContext

    # A type only: creating a Protocol class costs about 0.3 ms at import (recipe-lint's cold start).
    class Rule(Protocol):
        CODE: str
        NAME: str
        SEVERITY: Severity
        __doc__: str | None

        def check(self, ctx: LintContext) -> Iterator[Finding]: ...

    #: Every rule by code, sorted (imports every rule module; see :func:`all_rules`).
    RULES: dict[str, Rule]


#: Every rule's module and what it needs to find anything: ``params`` a manifest (``--params``),
#: ``steps`` ``--steps-per-epoch``, ``v2`` a v2 (stage-format) recipe. A run imports only the rules
#: that can fire (`recipe-lint`'s cold start: each module costs about 0.1 ms);
#: tests/test_rule_docs.py checks these needs against each rule's documentation.
REGISTRY: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("end_before_start", ()),
    ("zero_length_ramp", ()),
    ("ramp_never_ends", ()),
    ("update_frequency_range", ()),
    ("update_every_step", ()),
    ("after_training_end", ()),
    ("ignored_parameter", ()),
    ("several_epoch_ranges", ()),
    ("sparsity_decreases", ()),
    ("low_final_sparsity", ()),
    ("bad_mask_type", ()),
    ("nm_ramp", ()),
    ("fisher_block_size", ()),
    ("overlapping_pruners", ()),
    ("pruning_frozen", ()),
    ("released_mask", ()),
    ("unmatched_params", ("params",)),
    ("invalid_regex", ()),
    ("regex_prefix", ("params",)),
    ("prunes_1d", ("params",)),
    ("prunes_folded_batchnorm", ("params",)),
    ("prunable_embeddings", ("params",)),
    ("ddp_prefix", ("params",)),
    ("untouched_prunable", ("params",)),
    ("qat_epochs_before_start", ()),
    ("qat_loses_sparsity", ()),
    ("qat_during_ramp", ()),
    ("several_quantizers", ()),
    ("qat_never_observes", ()),
    ("legacy_embedding_observers", ("params",)),
    ("qat_not_exportable", ()),
    ("qat_unmatched_modules", ("params",)),
    ("lr_kwargs", ()),
    ("milestones", ()),
    ("conflicting_lr", ()),
    ("set_lr_inside_schedule", ()),
    ("lr_start_minus_one", ()),
    ("epoch_between_steps", ("steps",)),
    ("update_frequency_drift", ("steps",)),
    ("yaml11_value", ()),
    ("unused_variable", ()),
    ("coerced_string", ()),
    ("stripped_key", ()),
    ("not_executed", ()),
    ("diagonal_fisher", ()),
    ("sampling_never_prunes", ("steps",)),
    ("sampling_skips_optimizer", ("steps",)),
    ("distillation_window", ()),
    ("removed_layer_params", ()),
    ("v2_duplicate_modifier", ("v2",)),
    ("v2_group_key", ("v2",)),
    ("v2_group_size", ("v2", "params")),
    ("v2_list_not_mapping", ("v2",)),
    ("v2_modifiers_outside_stage", ("v2",)),
    ("v2_scheme_and_config_groups", ("v2",)),
    ("v2_stage_key", ("v2",)),
    ("v2_start_minus_one", ("v2",)),
    ("v2_unmatched_targets", ("v2", "params")),
)


def _load(module: str) -> Rule:
    return cast("Rule", importlib.import_module(f"recipekit.lint_rules.{module}"))


def rules_for(*, params: bool, steps: bool, v2: bool) -> list[Rule]:
    """The rules that can find something in a run with (or without) a manifest, steps per epoch, a v2 recipe."""
    available = {"params": params, "steps": steps, "v2": v2}
    return [_load(module) for module, needs in REGISTRY if all(available[need] for need in needs)]


def all_rules() -> dict[str, Rule]:
    """Every rule by code, sorted by code."""
    loaded = [_load(module) for module, _ in REGISTRY]
    return {rule.CODE: rule for rule in sorted(loaded, key=lambda rule: rule.CODE)}


def __getattr__(name: str) -> Any:
    if name == "RULES":
        return all_rules()
    raise AttributeError(f"module 'recipekit.lint_rules' has no attribute {name!r}")


def codes() -> dict[str, Code]:
    """Every diagnostic code, sorted: the core table plus one per rule (summary = the docstring's first line)."""
    table = dict(CODES)
    for rule in all_rules().values():
        table[rule.CODE] = Code(rule.CODE, rule.NAME, rule.SEVERITY, (rule.__doc__ or "").strip().splitlines()[0])
    return dict(sorted(table.items()))


#: What `recipekit compile` does with a rule's defect (docs/rules.md): it refuses what SparseML refused at load
#: or initialize (``compiler/refusals.py``), warns about what SparseML ran but not as the recipe reads
#: (``compiler/traps.py``), or does not judge it ("—", with the reason where the rule is an error).
COMPILE_DECISIONS = ("refuses", "warns", "—")


def compile_decision(rule: Rule) -> str:
    """``compile: refuses``, ``compile: warns (...)`` or ``compile: —``, from the rule's ``COMPILE`` and ``COMPILE_NOTE``."""
    decision = getattr(rule, "COMPILE", "—")
    note = getattr(rule, "COMPILE_NOTE", None)
    return f"compile: {decision}" + (f" ({note})" if note else "")


def get(code: str) -> Rule:
    try:
        return all_rules()[code.upper()]
    except KeyError:
        raise ValueError(f"no rule {code!r}") from None
