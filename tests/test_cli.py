"""The command line: output formats, exit codes 0/1/2/3, normalize and schema."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from recipekit import cli

GOOD = "modifiers:\n  - !EpochRangeModifier\n    start_epoch: 0.0\n    end_epoch: 2.0\n"
BAD = "modifiers:\n  - !EpochRangeModifier\n    start_epoch: 0.0\n    end_epoch: nope\n"
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "recipe.yaml"
PLAIN = EXAMPLE.with_name("plain.yaml")


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def lint(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli.lint_command, list(args))
    return result.exit_code, result.output


def test_clean_recipe_exits_0(tmp_path: Path) -> None:
    code, output = lint(str(write(tmp_path, "r.yaml", GOOD)))
    assert code == 0
    assert output == "Checked 1 file: no problems.\n"


def test_errors_exit_1_with_position_and_snippet(tmp_path: Path) -> None:
    path = write(tmp_path, "r.yaml", BAD)
    code, output = lint(str(path))
    assert code == 1
    assert output.splitlines()[:4] == [
        f"{path}:4:16: error: S205 end_epoch must be a number, not the string 'nope'",
        "   |",
        " 4 |     end_epoch: nope",
        "   |                ^~~~",
    ]


def test_warnings_alone_exit_0(tmp_path: Path) -> None:
    text = "unused: 3\nmodifiers:\n  - !EpochRangeModifier\n    start_epoch: 0.0\n    end_epoch: 2.0\n"
    code, output = lint(str(write(tmp_path, "r.yaml", text)))
    assert (code, "warning: L361" in output, "error" in output) == (0, True, False)


def test_a_misspelled_v2_argument_is_an_error_in_both_dialects(tmp_path: Path) -> None:
    """Issue 21 item 7: SparseML 1.8 drops `sparsty` silently, which is why it must not pass (it was a warning, exit 0)."""
    text = "s_stage:\n  q_modifiers:\n    SparseGPTModifier:\n      sparsty: 0.5\n"
    code, output = lint(str(write(tmp_path, "v2.yaml", text)))
    assert code == 1
    assert "v2.yaml:4:7: error: S223 SparseGPTModifier has no argument 'sparsty'; did you mean 'sparsity'?" in output
    # S227 still says which library loads the file.
    assert "info: S227 a v2 recipe, checked as SparseML 1.8.0's; llm-compressor 0.14.0.1 refuses it" in output
    # An argument an earlier SparseML took (its own recipes still write it) is a warning that names the replacement.
    text = "s_stage:\n  q_modifiers:\n    SparseGPTModifier:\n      sparsity: 0.5\n      percdamp: 0.01\n"
    code, output = lint(str(write(tmp_path, "old.yaml", text)))
    assert code == 0
    assert "old.yaml:5:7: warning: S223 SparseGPTModifier has no argument 'percdamp' in SparseML 1.8.0" in output
    assert "an earlier SparseML took it; use dampening_frac" in output


def test_front_matter_warning_comes_with_the_error_it_causes(tmp_path: Path) -> None:
    path = write(tmp_path, "r.md", "---\n" + GOOD.replace("0.0", "0.0  # ---") + "---\n")
    code, output = lint("--format", "json", str(path))
    assert code == 1
    assert [(d["line"], d["code"]) for d in json.loads(output)] == [(3, "S204"), (4, "P114")]


def test_json_format(tmp_path: Path) -> None:
    path = write(tmp_path, "r.yaml", BAD)
    code, output = lint("--format", "json", str(path))
    assert code == 1
    (item,) = json.loads(output)
    assert {k: item[k] for k in ("path", "line", "column", "end_line", "end_column", "code", "severity")} == {
        "path": str(path),
        "line": 4,
        "column": 16,
        "end_line": 4,
        "end_column": 20,
        "code": "S205",
        "severity": "error",
    }
    assert item["message"].startswith("end_epoch must be a number")


def test_directories_are_searched_and_broken_files_do_not_stop_the_run(tmp_path: Path) -> None:
    write(tmp_path, "a/one.yaml", BAD)
    write(tmp_path, "a/b/two.md", "---\n" + BAD + "---\n")
    write(tmp_path, "a/b/three.yml", GOOD)
    write(tmp_path, "a/notes.txt", "not a recipe")
    write(tmp_path, "a/broken.yaml", "modifiers:\n  - !EpochRangeModifier\n    end_epoch: [\n")
    write(tmp_path, "a/workflow.yaml", "a: [\n")  # broken, but no recipe: a walk skips it
    code, output = lint("--format", "json", str(tmp_path / "a"))
    assert code == 1
    found = sorted((Path(d["path"]).name, d["code"]) for d in json.loads(output))
    assert found == [("broken.yaml", "P101"), ("one.yaml", "S205"), ("two.md", "S205")]


def test_var_overrides(tmp_path: Path) -> None:
    path = write(tmp_path, "r.yaml", "n: 2.0\n" + GOOD.replace("2.0", "eval(n)"))
    assert lint("--var", "n=3", str(path))[0] == 0
    code, output = lint("--var", "m=3", str(path))
    assert code == 1 and "P127" in output


@pytest.mark.parametrize("args", [["--var", "novalue", "x.yaml"], ["missing.yaml"], []])
def test_usage_errors_exit_2(tmp_path: Path, args: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "x.yaml", GOOD)
    assert lint(*args)[0] == 2


def test_internal_errors_exit_3(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr("recipekit.lint.linter.load_source", broken)
    result = CliRunner().invoke(cli.lint_command, [str(write(tmp_path, "r.yaml", GOOD))])
    assert result.exit_code == 3
    assert "internal error: RuntimeError: boom" in result.output
    assert "Traceback" not in result.output


def test_normalize_prints_effective_values() -> None:
    result = CliRunner().invoke(cli.main, ["normalize", str(EXAMPLE)])
    assert result.exit_code == 0
    document = json.loads(result.output)
    types = [m["type"] for m in document["modifiers"]]
    assert types == ["EpochRangeModifier", "LearningRateModifier", "GMPruningModifier"]
    pruning = document["modifiers"][2]
    assert pruning["end_epoch"] == 45.0 and pruning["inter_func"] == "cubic" and pruning["mask_type"] == "unstructured"
    assert pruning["span"] == {"line": 27, "column": 5, "end_line": 27, "end_column": 23}
    assert document["modifiers"][1]["lr_kwargs"] == {"milestones": [30, 50], "gamma": 0.1}
    assert document["variables"]["pruning_end"] == 45.0


def test_normalize_with_var_and_errors(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli.main, ["normalize", str(EXAMPLE), "--var", "num_epochs=100"])
    assert json.loads(result.output)["modifiers"][0]["end_epoch"] == 100.0
    result = CliRunner().invoke(cli.main, ["normalize", str(write(tmp_path, "r.yaml", BAD))])
    assert result.exit_code == 1


def test_schema_command() -> None:
    result = CliRunner().invoke(cli.main, ["schema", "--modifier", "GMPruningModifier"])
    assert result.exit_code == 0
    assert json.loads(result.output)["title"] == "GMPruningModifier"
    bundle = json.loads(CliRunner().invoke(cli.main, ["schema"]).output)
    assert len(bundle["$defs"]) == 27
    result = CliRunner().invoke(cli.main, ["schema", "--modifier", "GMPruning"])
    assert result.exit_code == 2 and "GMPruningModifier" in result.output


def test_console_scripts_and_module_entry_point() -> None:
    result = subprocess.run([sys.executable, "-m", "recipekit", "lint", str(EXAMPLE)], capture_output=True, text=True, check=False)
    assert (result.returncode, result.stdout) == (0, "Checked 1 file: no problems.\n")


def test_cold_lint_never_imports_torch_jsonschema_or_lark() -> None:
    """recipe-lint on a recipe without expressions stays on the fast import path.

    Nor `dataclasses`: a @dataclass costs ~0.6 ms at import, and the lint path's classes are
    written out for that reason (recipekit/record.py).
    """
    code = (
        "import sys\n"
        # An editable install's import hook loads pathlib before any recipekit module: forget it, so
        # only an import by recipekit brings it back.
        "sys.modules.pop('pathlib', None)\n"
        "from recipekit.lint.driver import LintRun, lint_paths\n"
        "from recipekit.lint.config import LintConfig\n"
        f"report = lint_paths(({str(PLAIN)!r},), LintRun(LintConfig(), {{}}, None, 'text'), sys.stdout)\n"
        # pathlib too: it pulls in urllib.parse and ipaddress, ~2 ms of a ~60 ms budget.
        "heavy = sorted(m for m in ('torch', 'jsonschema', 'lark', 'numpy', 'dataclasses', 'pathlib') if m in sys.modules)\n"
        "print(sum(report.counts.values()), heavy)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.splitlines()[-1] == "0 []"


def test_lint_with_expressions_imports_neither_lark_nor_torch() -> None:
    # lark compiled the grammar into recipekit/compiler/expr_tables.py; linting needs only the tables.
    code = (
        "import sys\n"
        "from recipekit.lint.driver import LintRun, lint_paths\n"
        "from recipekit.lint.config import LintConfig\n"
        "from pathlib import Path\n"
        f"lint_paths((Path({str(EXAMPLE)!r}),), LintRun(LintConfig(), {{}}, None, 'json'), sys.stdout)\n"
        "print([m in sys.modules for m in ('torch', 'lark', 'dataclasses', 'recipekit.compiler.expr_tables')])\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.splitlines()[-1] == "[False, False, False, True]"
