"""Every rule's docstring examples run: Bad triggers exactly that rule, Good is clean."""

from __future__ import annotations

import pytest

from recipekit.compiler import load_text
from recipekit.lint.config import LintConfig
from recipekit.lint.linter import run_rules
from recipekit.lint.rule_docs import parse_rule_doc
from recipekit.lint_rules import RULES
from recipekit.lint_rules._context import LintContext


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
