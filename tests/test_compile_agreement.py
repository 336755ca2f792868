"""`recipe-lint` and `recipekit compile` agree on every lint error (issue 21, item 1).

Each error rule declares what compile does with its defect (``COMPILE``: refuses what SparseML
refused at load or initialize, warns about what SparseML ran, or "—" with the reason); this file
checks the declaration against both commands on the rule's own Bad example, and docs/rules.md
renders it.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from recipekit import cli
from recipekit.compiler import compile_source
from recipekit.diagnostics import Severity
from recipekit.lint.config import LintConfig
from recipekit.lint.linter import lint_text
from recipekit.lint.rule_docs import parse_rule_doc
from recipekit.lint_rules import COMPILE_DECISIONS, all_rules, compile_decision
from recipekit.source import Source

RULES = all_rules()
ERRORS = [code for code, rule in RULES.items() if rule.SEVERITY is Severity.ERROR]


def _lint(text: str, spe: float | None = None) -> list[tuple[int, int, str, str]]:
    config = LintConfig()
    config.steps_per_epoch = spe
    _, found = lint_text(Path("r.yaml"), text, False, config)
    return [(d.location.line, d.location.column, d.code, d.message) for d in found]


def _compile(text: str, spe: float) -> tuple[bool, list[tuple[int, int, str, str, Severity]]]:
    plan, found = compile_source(Source("r.yaml", text), spe)
    return plan is not None, [(d.location.line, d.location.column, d.code, d.message, d.severity) for d in found]


@pytest.mark.parametrize("code", ERRORS)
def test_every_error_rule_declares_what_compile_does(code: str) -> None:
    rule = RULES[code]
    decision = getattr(rule, "COMPILE", None)
    assert decision in COMPILE_DECISIONS, f"{code} declares no COMPILE decision"
    if decision == "—":
        assert getattr(rule, "COMPILE_NOTE", ""), f"{code}: an error compile does not judge must say why"


def test_the_decision_is_rendered_in_rules_md_and_recipekit_rule() -> None:
    text = (Path(__file__).parents[1] / "docs" / "rules.md").read_text(encoding="utf-8")
    for code, rule in RULES.items():
        assert f"*{compile_decision(rule)}*" in text.split(f"## {code}\n", 1)[1].split("\n## ", 1)[0]
    assert "| [L301](#l301) | `end-before-start` | error | refuses |" in text
    assert "| [L334](#l334) | `several-quantizers` | error | warns |" in text
    output = CliRunner().invoke(cli.main, ["rule", "L332"]).output
    assert output.rstrip().endswith("compile: warns")


@pytest.mark.parametrize("code", [c for c, r in RULES.items() if getattr(r, "COMPILE", "—") != "—"])
def test_compile_reports_the_bad_example_as_declared(code: str) -> None:
    """A rule that compile refuses or warns about: the same code, position and message from both commands."""
    rule = RULES[code]
    doc = parse_rule_doc(rule.__doc__ or "")
    assert doc.params is None  # compile has no model; such a rule cannot declare compile's behaviour
    spe = doc.steps_per_epoch or 4.0
    linted = [f for f in _lint(doc.bad, doc.steps_per_epoch) if f[2] == code]
    compiled_ok, compiled = _compile(doc.bad, spe)
    assert linted, f"{code}'s Bad example finds nothing"
    assert sorted((c[:4]) for c in compiled if c[2] == code) == sorted(linted)
    decision = getattr(rule, "COMPILE", "—")
    severity = Severity.ERROR if decision == "refuses" else Severity.WARNING
    assert {c[4] for c in compiled if c[2] == code} == {severity}
    assert compiled_ok is (decision == "warns")
    # The Good example compiles without the code.
    assert [c for c in _compile(doc.good, spe)[1] if c[2] == code] == []


END_BEFORE_START = """\
modifiers:
  - !EpochRangeModifier
    start_epoch: 0.0
    end_epoch: 6.0
  - !GMPruningModifier
    params: ["re:.*weight"]
    init_sparsity: 0.05
    final_sparsity: 0.8
    start_epoch: 4.0
    end_epoch: 2.0
    update_frequency: 1.0
"""


def test_end_before_start_is_refused_by_compile_show_and_expand(tmp_path: Path) -> None:
    """The issue's case: lint's L301 error, which compile ran silently (show drew a ramp, expand stopped at init)."""
    recipe = tmp_path / "r.yaml"
    recipe.write_text(END_BEFORE_START, encoding="utf-8")
    assert [f[:3] for f in _lint(END_BEFORE_START)] == [(10, 16, "L301")]
    runner = CliRunner()
    for args in (["compile", str(recipe), "--steps-per-epoch", "4"], ["show", str(recipe), "--steps-per-epoch", "4"]):
        result = runner.invoke(cli.main, args)
        assert result.exit_code == 1, args
        assert "r.yaml:10:16: error: L301 end_epoch (2.0) is before start_epoch (4.0)" in result.output


def test_lr_function_with_end_minus_one_is_l301_in_both() -> None:
    text = "modifiers:\n  - !LearningRateFunctionModifier\n    lr_func: linear\n    init_lr: 0.1\n    final_lr: 0.01\n"
    text += "    start_epoch: 0.0\n    end_epoch: -1\n"
    assert [f[:3] for f in _lint(text)] == [(7, 16, "L301")]
    ok, found = _compile(text, 4)
    assert not ok and [f[:3] for f in found] == [(7, 16, "L301")]


def test_milestones_out_of_order_compile_with_a_warning_as_sparseml_ran_them() -> None:
    text = textwrap.dedent("""\
        modifiers:
          - !LearningRateModifier
            lr_class: MultiStepLR
            lr_kwargs: {milestones: [3, 2], gamma: 0.1}
            init_lr: 0.1
            start_epoch: 0.0
            end_epoch: 5.0
        """)
    assert [f[:3] for f in _lint(text)] == [(4, 16, "L341")]
    ok, found = _compile(text, 4)
    assert ok and [(f[:3], f[4]) for f in found] == [((4, 16, "L341"), Severity.WARNING)]


def test_compile_json_stderr_names_the_trap(tmp_path: Path) -> None:
    recipe = tmp_path / "r.yaml"
    recipe.write_text("modifiers:\n  - !QuantizationModifier\n    start_epoch: 1.0\n  - !QuantizationModifier\n    start_epoch: 2.0\n")
    result = CliRunner().invoke(cli.main, ["compile", str(recipe), "--steps-per-epoch", "2"])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["total_steps"] == 4
    assert "r.yaml:4:5: warning: L334 a second QuantizationModifier" in result.stderr
