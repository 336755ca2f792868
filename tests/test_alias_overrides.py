"""`--var` on a variable that reaches the modifiers only through YAML aliases (P128)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from recipekit import cli
from tests.helpers import load

RECIPE = """\
num_epochs: &num_epochs 40
lr: &lr 0.1
modifiers:
  - !EpochRangeModifier
    start_epoch: 0.0
    end_epoch: *num_epochs
  - !SetLearningRateModifier
    start_epoch: 0.0
    learning_rate: *lr
  - !LearningRateFunctionModifier
    start_epoch: 1.0
    end_epoch: *num_epochs
    lr_func: linear
    init_lr: eval(lr)
    final_lr: 0.0
"""


def _positions(overrides: dict[str, object], text: str = RECIPE) -> list[tuple[int, int, str]]:
    _, diagnostics = load(text, overrides=overrides)
    return [(d.location.line, d.location.column, d.code) for d in diagnostics]


def test_each_alias_the_override_misses_is_reported() -> None:
    recipe, diagnostics = load(RECIPE, overrides={"num_epochs": 4})
    assert recipe is not None
    assert [(d.location.line, d.location.column, d.code) for d in diagnostics] == [(6, 16, "P128"), (12, 16, "P128")]
    first = diagnostics[0]
    assert first.message.startswith("--var num_epochs=4 does not reach this alias *num_epochs: YAML aliases are resolved")
    assert "so this value stays 40" in first.message and "eval(num_epochs)" in first.message
    assert first.notes[0].location is not None and first.notes[0].location.line == 1
    assert first.fix is not None and [(e.start, e.end, e.text) for e in first.fix.edits] == [
        (RECIPE.index("*num_epochs"), RECIPE.index("*num_epochs") + len("*num_epochs"), "eval(num_epochs)")
    ]
    # The meaning stays SparseML's: the alias keeps 40, eval(...) sees the override.
    assert recipe.modifiers[0].value("end_epoch") == 40.0


def test_no_warning_without_an_override_or_for_variables_used_by_eval() -> None:
    assert _positions({}) == []
    # `lr` reaches one modifier by eval (which the override changes) and one by alias (which it misses).
    assert _positions({"lr": 0.2}) == [(9, 20, "P128")]


def test_an_overridden_variable_that_is_itself_the_alias_is_not_reported() -> None:
    text = "a: &a 1.0\nb: *a\nmodifiers:\n  - !EpochRangeModifier\n    start_epoch: 0.0\n    end_epoch: eval(b)\n"
    assert _positions({"a": 2.0}, text) == [(2, 4, "P128")]
    assert _positions({"a": 2.0, "b": 3.0}, text) == []


STAGED = """\
num_epochs: &n 10.0
stage_0:
  num_epochs: 5.0
  stage_0_modifiers:
    - !EpochRangeModifier
      start_epoch: 0.0
      end_epoch: *n
stage_1:
  stage_1_modifiers:
    - !EpochRangeModifier
      start_epoch: 0.0
      end_epoch: *n
"""


def test_no_fix_where_eval_would_name_a_stage_variable_instead() -> None:
    _, diagnostics = load(STAGED, overrides={"num_epochs": 3.0})
    assert [(d.location.line, d.fix is not None) for d in diagnostics] == [(7, False), (12, True)]


def _write(tmp_path: Path, text: str = RECIPE) -> Path:
    path = tmp_path / "r.yaml"
    path.write_text(text)
    return path


def test_every_command_warns(tmp_path: Path) -> None:
    path = str(_write(tmp_path))
    runner = CliRunner()
    for args in (
        ["compile", path, "--steps-per-epoch", "10", "--var", "num_epochs=4"],
        ["normalize", path, "--var", "num_epochs=4"],
        ["show", path, "--steps-per-epoch", "10", "--var", "num_epochs=4"],
    ):
        result = runner.invoke(cli.main, args)
        assert result.exit_code == 0, result.output
        assert f"{path}:6:16: warning: P128 --var num_epochs=4 does not reach this alias *num_epochs" in result.stderr, args
    result = runner.invoke(cli.lint_command, [path, "--var", "num_epochs=4"])
    assert result.exit_code == 0
    assert f"{path}:6:16: warning: P128" in result.output


def test_fix_rewrites_the_alias_into_eval(tmp_path: Path) -> None:
    path = _write(tmp_path)
    result = CliRunner().invoke(cli.lint_command, [str(path), "--var", "num_epochs=4", "--fix"])
    assert result.exit_code == 0, result.output
    fixed = path.read_text()
    assert fixed == RECIPE.replace("end_epoch: *num_epochs", "end_epoch: eval(num_epochs)")
    recipe, diagnostics = load(fixed, overrides={"num_epochs": 4})
    assert diagnostics == [] and recipe is not None
    assert recipe.modifiers[0].value("end_epoch") == 4.0
    # Without an override the fixed recipe means what the original meant.
    before, _ = load(RECIPE)
    after, _ = load(fixed)
    assert before is not None and after is not None
    assert [m.value("end_epoch") for m in before.modifiers] == [m.value("end_epoch") for m in after.modifiers]
