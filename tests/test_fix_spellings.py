"""`recipe-lint --fix` for S202 (legacy modifier names) and S208 (YAML 1.1 float spellings)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from recipekit import cli
from tests.helpers import load

LEGACY = """\
modifiers:
  - !EpochRangeModifier
    start_epoch: 0.0
    end_epoch: 10.0
  - !pytorch.GradualKSModifier
    params: [sections.0.weight]
    init_sparsity: 0.05
    final_sparsity: 0.85
    start_epoch: 1.0
    end_epoch: 6.0
    update_frequency: 0.5
    log_types: __ALL__
  - !ConstantKSModifier
    params: [sections.1.weight]
  - !ConstantKSModifier
    layers: [sections.2.weight]
"""

FLOATS = """\
modifiers:
  - !EpochRangeModifier
    start_epoch: 0.0
    end_epoch: 10.0
  - !GMPruningModifier
    params: [sections.0.weight]
    init_sparsity: 5e-2
    final_sparsity: "8.5e-1"
    start_epoch: 1.0
    end_epoch: 6.0
    update_frequency: 0.5
"""


def _fixes(text: str) -> list[tuple[str, int, list[tuple[int, int, str]] | None]]:
    _, diagnostics = load(text)
    return [(d.code, d.location.line, None if d.fix is None else [(e.start, e.end, e.text) for e in d.fix.edits]) for d in diagnostics]


def test_legacy_names_get_a_rename_when_every_parameter_kept_its_name() -> None:
    gradual = LEGACY.index("GradualKSModifier")
    constant = LEGACY.index("ConstantKSModifier")
    assert _fixes(LEGACY) == [
        ("S202", 5, [(gradual, gradual + len("GradualKSModifier"), "GMPruningModifier")]),
        ("S202", 13, [(constant, constant + len("ConstantKSModifier"), "ConstantPruningModifier")]),
        # `layers` is no ConstantPruningModifier parameter: a rename alone would not load either.
        ("S202", 15, None),
    ]


def test_yaml11_float_spellings_get_a_fix() -> None:
    start = FLOATS.index("5e-2")
    quoted = FLOATS.index('"8.5e-1"')
    assert _fixes(FLOATS) == [
        ("S208", 7, [(start, start + 4, "5.0e-2")]),
        ("S208", 8, [(quoted, quoted + len('"8.5e-1"'), "8.5e-1")]),
    ]


def test_no_fix_where_the_value_is_not_written_there() -> None:
    text = "s: &s 5e-2\n" + FLOATS.replace("init_sparsity: 5e-2", "init_sparsity: *s")
    assert [(code, line, fix is None) for code, line, fix in _fixes(text)] == [("S208", 8, True), ("S208", 9, False)]


def test_fix_command_rewrites_both(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    pruner = FLOATS.split("\n", 4)[4]  # the GMPruningModifier item alone
    path.write_text(LEGACY + pruner.replace("sections.0", "sections.3"))
    result = CliRunner().invoke(cli.lint_command, [str(path), "--fix"])
    fixed = path.read_text()
    assert "!pytorch.GMPruningModifier" in fixed and fixed.count("!ConstantPruningModifier") == 1
    assert "init_sparsity: 5.0e-2" in fixed and "final_sparsity: 8.5e-1" in fixed
    # The rules run past the S202 left (issue 21 item 5), so L363's fix removes `log_types` in the same run.
    assert "log_types" not in fixed
    assert "Fixed 5 problems." in result.output
    # What is left is the one that needs a human: the unknown `layers` key.
    assert result.exit_code == 1 and "r.yaml:14:5: error: S202" in result.output  # a line up: log_types went
