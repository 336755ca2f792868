"""Every rule's docstring examples run: Bad triggers exactly that rule, Good is clean."""

from __future__ import annotations

import pytest

from recipekit.compiler import load_text
from recipekit.lint.config import LintConfig
from recipekit.lint.linter import run_rules
from recipekit.lint.rule_docs import parse_rule_doc
from recipekit.lint_rules import RULES
from recipekit.lint_rules._context import LintContext

RULES_BY_MODULE = {rule.__name__.rsplit(".", 1)[-1]: rule for rule in RULES.values()}


def lint(text: str, code: str) -> list[tuple[int, int, str]]:
    rule = RULES[code]
    doc = parse_rule_doc(rule.__doc__ or "")
    recipe, diagnostics = load_text(text, "example.yaml")
    assert recipe is not None, [d.message for d in diagnostics]
    ctx = LintContext(recipe, params=doc.params, steps_per_epoch=doc.steps_per_epoch)
    found = diagnostics + run_rules(ctx, LintConfig())
    return [(d.location.line, d.location.column, d.code) for d in found]


@pytest.mark.parametrize("code", sorted(RULES))
def test_docstring_is_complete(code: str) -> None:
    rule = RULES[code]
    doc = parse_rule_doc(rule.__doc__ or "")
    assert doc.summary.endswith("."), "summary line"
    assert doc.body, "why it matters"
    assert doc.bad and doc.good, "Bad: and Good: examples"
    assert rule.NAME.lower() == rule.NAME and " " not in rule.NAME
    assert rule.CODE.startswith("L3") and len(rule.CODE) == 4


@pytest.mark.parametrize("code", sorted(RULES))
def test_bad_example_triggers_exactly_this_rule(code: str) -> None:
    found = lint(parse_rule_doc(RULES[code].__doc__ or "").bad, code)
    assert found and {c for _, _, c in found} == {code}, found


@pytest.mark.parametrize("code", sorted(RULES))
def test_good_example_is_clean(code: str) -> None:
    assert lint(parse_rule_doc(RULES[code].__doc__ or "").good, code) == []


def test_each_rule_is_registered_with_what_it_needs_to_find_anything() -> None:
    # The engine imports only the rules that can fire (cold start): a need declared in the registry
    # that the rule's own docs do not show (or the reverse) would skip a rule that could fire.
    from recipekit.lint_rules import REGISTRY

    for module, needs in REGISTRY:
        rule = RULES_BY_MODULE[module]
        doc = parse_rule_doc(rule.__doc__ or "")
        assert ("params" in needs) == (doc.params is not None), module
        assert ("steps" in needs) == (doc.steps_per_epoch is not None), module
        assert ("v2" in needs) == module.startswith("v2_"), module
    assert sorted(RULES_BY_MODULE) == sorted(module for module, _ in REGISTRY)


def test_a_run_imports_only_the_rules_that_can_fire() -> None:
    from recipekit.lint_rules import rules_for

    plain = {rule.CODE for rule in rules_for(params=False, steps=False, v2=False)}
    assert "L320" not in plain and "L350" not in plain and "L370" not in plain and "L301" in plain
    everything = {rule.CODE for rule in rules_for(params=True, steps=True, v2=True)}
    assert everything == set(RULES)
