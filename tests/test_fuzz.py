"""No input makes the front-end raise, and every reported position lies inside the file.

A small structural fuzzer over seed recipes (the bundled examples and a few
shapes that exercise every stage). The large-budget fuzzer belongs to bench/.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recipekit.compiler import compile_source, load_text
from recipekit.lint.config import LintConfig
from recipekit.lint.linter import run_rules
from recipekit.lint_rules._context import LintContext
from recipekit.source import source_from_text
from tests.fuzzing import check_bytes, check_text, mutated


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated(), st.booleans())
def test_mutated_recipes_never_raise(text: str, markdown: bool) -> None:
    check_text(text, markdown)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    check_bytes(data)


def test_regression_malformed_lr_kwargs_found_by_fuzzing() -> None:
    text = (
        "modifiers:\n  - !LearningRateModifier\n    lr_class: MultiStepLR\n    lr_kwargs: {milestones: true, gamma: 0.1}\n"
        "    init_lr: 0.1\n    start_epoch: 0.0\n"
    )
    source, _ = source_from_text(text, "r.yaml", markdown=False)
    assert source is not None
    plan, diagnostics = compile_source(source, 3)
    assert plan is None
    assert [(d.location.line, d.location.column, d.code) for d in diagnostics] == [(4, 16, "L340")]


def test_regression_malformed_scheme_overrides_found_by_fuzzing() -> None:
    text = "modifiers:\n  - !QuantizationModifier\n    scheme_overrides:\n      LayerNorm: {input_activations: n}\n"
    _, diagnostics = load_text(text, "r.yaml")
    assert [(d.location.line, d.location.column, d.code) for d in diagnostics] == [(4, 38, "S205")]


def test_regression_invalid_regex_with_a_manifest_found_by_bench_fuzz() -> None:
    # bench/fuzz.py: rules that resolve selectors against a manifest raised re.error on an invalid `re:` pattern.
    text = (
        "modifiers:\n  - !GMPruningModifier\n    params: ['re:a(']\n    init_sparsity: 0.05\n    final_sparsity: 0.5\n"
        "    start_epoch: 0.0\n    end_epoch: 2.0\n    update_frequency: 0.5\n"
    )
    recipe, _ = load_text(text, "r.yaml")
    assert recipe is not None
    findings = run_rules(LintContext(recipe, params=[{"name": "a.weight", "shape": [2, 2], "module_type": "Linear"}]), LintConfig())
    # The pattern is reported where it is written; it matches nothing, so a.weight is reported untouched (info).
    assert [(f.location.line, f.location.column, f.code) for f in findings] == [(3, 14, "L321"), (2, 5, "L326")]
