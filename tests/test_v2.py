"""v2 (stage-format) recipes: format detection, both dialects' schemas, the silent cases, refusals."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from recipekit.cli import lint_command, main
from recipekit.compiler import load_text
from recipekit.diagnostics import Severity
from recipekit.lint.config import LintConfig
from recipekit.lint.linter import lint_file, run_rules
from recipekit.lint_rules._context import LintContext
from tests.helpers import CORPUS

EXPECTATIONS = Path(__file__).parent / "expectations" / "v2_verdicts.tsv"
PARAMS = [
    {"name": "model.layers.0.mlp.down_proj.weight", "shape": [64, 200], "module_type": "Linear"},
    {"name": "lm_head.weight", "shape": [100, 64], "module_type": "Linear"},
]


def lint(text: str, params: list[dict[str, Any]] | None = None) -> list[tuple[int, int, str]]:
    recipe, diagnostics = load_text(text, "r.yaml")
    if recipe is not None:
        diagnostics = diagnostics + run_rules(LintContext(recipe, params=params), LintConfig())
    return sorted((d.location.line, d.location.column, d.code) for d in diagnostics)


SPARSE = "      sparsity: 0.5\n      targets: ['re:.*layers.0$']\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # typo in the stage key: llm-compressor loads zero modifiers
        ("sparse_stag:\n  pruning_modifiers:\n    SparseGPTModifier:\n" + SPARSE, [(1, 1, "L370")]),
        # typo in the group key
        ("sparse_stage:\n  pruning_modifers:\n    SparseGPTModifier:\n" + SPARSE, [(2, 3, "L371")]),
        # modifiers with no stage
        ("pruning_modifiers:\n  SparseGPTModifier:\n    sparsity: 0.5\n", [(1, 1, "L372")]),
        # a v1-style list under a group
        ("s_stage:\n  pruning_modifiers:\n    - SparseGPTModifier:\n        sparsity: 0.5\n", [(3, 5, "L373")]),
        # a modifier written twice in a group: the last wins
        (
            "s_stage:\n  q_modifiers:\n    GPTQModifier:\n      scheme: W4A16\n    GPTQModifier:\n      scheme: W8A8\n",
            [(5, 5, "L374")],
        ),
        ("s_stage:\n  q_modifiers:\n    GPTQModifier:\n      scheme: W4A16\n      config_groups: {}\n", [(4, 7, "L375")]),
        ("s_stage:\n  p_modifiers:\n    ConstantPruningModifier:\n      targets: [a]\n      start: -1\n", [(5, 14, "L376")]),
    ],
)
def test_silent_cases_are_errors(text: str, expected: list[tuple[int, int, str]]) -> None:
    assert lint(text) == expected


def test_targets_and_ignore_against_a_manifest() -> None:
    text = "s_stage:\n  q_modifiers:\n    GPTQModifier:\n      scheme: W8A8\n"
    text += "      targets: [Linear, 're:.*q_proj']\n      ignore: [lm_haed]\n"
    assert lint(text, PARAMS) == [(5, 25, "L377"), (6, 16, "L377")]


def test_group_size_must_divide_the_input_dimension() -> None:
    text = "s_stage:\n  q_modifiers:\n    GPTQModifier:\n      scheme: W4A16\n      ignore: [lm_head]\n"
    assert lint(text, PARAMS) == [(4, 15, "L378")]  # down_proj has 200 input columns


def test_schema_errors_name_the_dialect_and_suggest() -> None:
    text = "s_stage:\n  q_modifiers:\n    GPTQModifer:\n      scheme: W4A61\n"
    recipe, diagnostics = load_text(text, "r.yaml")
    assert recipe is None
    by_code = {d.code: d for d in diagnostics}
    assert (by_code["S220"].location.line, by_code["S220"].location.column) == (3, 5)
    assert "did you mean 'GPTQModifier'?" in by_code["S220"].message


def test_unknown_preset_lists_the_presets() -> None:
    _, diagnostics = load_text("s_stage:\n  q_modifiers:\n    QuantizationModifier:\n      scheme: W4A61\n", "r.yaml")
    s226 = next(d for d in diagnostics if d.code == "S226")
    assert (s226.location.line, s226.location.column) == (4, 15)
    assert "did you mean 'W4A16'?" in s226.message and "W8A8" in s226.message


def test_dialect_only_llmcompressor_accepts() -> None:
    # AWQModifier exists only in llm-compressor: S227 says which dialect matched.
    diagnostics = load_text("s_stage:\n  q_modifiers:\n    AWQModifier: {}\n", "r.yaml")[1]
    assert [(d.code, d.severity) for d in diagnostics] == [("S227", Severity.INFO)]
    assert "checked as llm-compressor" in diagnostics[0].message and "SparseML 1.8.0 refuses it" in diagnostics[0].message


def test_mixed_formats_are_ambiguous() -> None:
    text = "s_stage:\n  q_modifiers:\n    GPTQModifier: {}\nmodifiers:\n  - !EpochRangeModifier\n    end_epoch: 1.0\n"
    assert (1, 1, "S215") in lint(text)


def test_embedded_recipe_positions_are_in_the_config_file(tmp_path: Path) -> None:
    path = tmp_path / "conf.yaml"
    path.write_text("model: x\nrecipe: |\n  s_stage:\n    q_modifiers:\n      GPTQModifer:\n        scheme: W4A16\n", encoding="utf-8")
    _, diagnostics = lint_file(path, LintConfig())
    assert [(d.location.line, d.location.column, d.code) for d in diagnostics if d.severity is Severity.ERROR] == [(5, 7, "S220")]


def test_cli_exit_codes_and_compile_refusal(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("s_stage:\n  q_modifiers:\n    GPTQModifier:\n      scheme: W4A16\n      targets: [Linear]\n", encoding="utf-8")
    bad = tmp_path / "bad.yaml"
    bad.write_text("s_stag:\n  q_modifiers:\n    GPTQModifier:\n      scheme: W4A16\n", encoding="utf-8")
    runner = CliRunner()
    assert runner.invoke(lint_command, [str(good)]).exit_code == 0
    result = runner.invoke(lint_command, [str(bad)])
    assert result.exit_code == 1 and "1:1: error: L370" in result.output and "S212" not in result.output
    compiled = runner.invoke(main, ["compile", "--steps-per-epoch", "10", str(good)])
    assert compiled.exit_code == 1 and "C415" in compiled.output and '"instructions"' not in compiled.output


def test_editor_schema_validates_v2_recipes() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    result = CliRunner().invoke(main, ["schema", "--format", "v2"])
    schema = json.loads(result.output)
    validator = jsonschema.Draft202012Validator(schema)
    assert not list(validator.iter_errors({"q_stage": {"q_modifiers": {"GPTQModifier": {"scheme": "W4A16", "targets": ["Linear"]}}}}))
    assert list(validator.iter_errors({"q_stage": {"q_modifiers": {"GPTQModifer": {}}}}))


def test_attach_refuses_a_plan_that_executes_nothing() -> None:
    torch = pytest.importorskip("torch")
    from recipekit.plan.model import Plan
    from recipekit.runtime.runner import RuntimeRefusal, attach

    model = torch.nn.Linear(2, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(RuntimeRefusal, match="no instruction the runtime executes"):
        attach(Plan("v2.yaml", "0" * 64, 10, -1, 0), model, optimizer)


@pytest.mark.skipif(not (CORPUS / "MANIFEST.tsv").is_file(), reason="../shared/corpus is not available")
def test_corpus_verdicts_match_the_libraries() -> None:
    """Recipes either library accepts lint with zero errors; the others get an error (verdicts: scripts/v2_verdicts.py)."""
    accepted: dict[str, bool] = {}
    with EXPECTATIONS.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            accepted[row["file"]] = accepted.get(row["file"], False) or row["verdict"] == "accept"
    assert len(accepted) == 82
    for name, ok in accepted.items():
        _, diagnostics = lint_file(CORPUS / name, LintConfig())
        errors = [(d.location.line, d.code, d.message) for d in diagnostics if d.severity is Severity.ERROR]
        assert (not errors) == ok, (name, errors)
