""" "Recorded, not executed" (C410) reaches every caller: the API, the linter, --strict."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import recipekit
from recipekit import cli
from recipekit.diagnostics import Severity

RECIPE = """\
modifiers:
  - !EpochRangeModifier
    start_epoch: 0.0
    end_epoch: 10.0
  - !SetParamModifier
    start_epoch: 0.0
    params: [a.bias]
    val: 0.0
"""

ACDC = """\
modifiers:
  - !EpochRangeModifier
    start_epoch: 0.0
    end_epoch: 10.0
  - !ACDCPruningModifier
    params: [a.weight]
    compression_sparsity: 0.9
    start_epoch: 0.0
    end_epoch: {end}
    update_frequency: 5
"""


def test_the_python_api_returns_the_warning_on_the_plan() -> None:
    plan = recipekit.compile_recipe(RECIPE, steps_per_epoch=10)
    assert [(w.code, w.severity, w.location.line, w.location.column) for w in plan.warnings] == [("C410", Severity.WARNING, 5, 5)]
    assert (
        "SetParamModifier is recorded in the plan but not executed: the recipekit runtime does not set parameter values"
        in plan.warnings[0].message
    )
    # Not part of the plan file: the JSON is the same as before.
    assert "warnings" not in plan.to_json()


def test_strict_refuses_the_plan_in_the_api_and_the_cli(tmp_path: Path) -> None:
    with pytest.raises(recipekit.RecipeError) as raised:
        recipekit.compile_recipe(RECIPE, steps_per_epoch=10, strict=True)
    assert [(d.code, d.severity) for d in raised.value.diagnostics] == [("C410", Severity.ERROR)]
    path = tmp_path / "r.yaml"
    path.write_text(RECIPE)
    result = CliRunner().invoke(cli.main, ["compile", str(path), "--steps-per-epoch", "10", "--strict"])
    assert result.exit_code == 1 and result.stdout == ""
    assert f"{path}:5:5: error: C410 SetParamModifier is recorded in the plan but not executed" in result.stderr
    assert "refused by strict mode" in result.stderr
    plain = CliRunner().invoke(cli.main, ["compile", str(path), "--steps-per-epoch", "10"])
    assert plain.exit_code == 0 and f"{path}:5:5: warning: C410" in plain.stderr


def test_recipe_lint_reports_what_the_runtime_will_not_execute(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(RECIPE)
    result = CliRunner().invoke(cli.lint_command, [str(path)])
    assert result.exit_code == 0
    assert (
        f"{path}:5:5: info: L364 the recipekit runtime will not execute SetParamModifier: "
        "the recipekit runtime does not set parameter values." in result.output
    )
    assert "no problems" not in result.output


@pytest.mark.parametrize("end", [5.0, 20.0])
def test_lint_and_compile_agree_on_acdc(tmp_path: Path, end: float) -> None:
    """AC/DC runs with any number of phases (tests/test_acdc.py): neither command calls it skipped."""
    skipped = False
    text = ACDC.format(end=end)
    plan = recipekit.compile_recipe(text, steps_per_epoch=10)
    assert [w.code for w in plan.warnings] == []
    path = tmp_path / "r.yaml"
    path.write_text(text)
    result = CliRunner().invoke(cli.lint_command, [str(path)])
    assert ("L364" in result.output) is skipped
