"""recipe-lint as users write its inputs: suppressions and configuration entries, paths relative to
the project root, pre-commit's named files, and the messages for inputs of the wrong kind (issue 21,
items 9, 10 and 13)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from recipekit import cli

ROOT = Path(__file__).resolve().parents[1]

# L333 (qat-during-ramp) at line 9 (the QuantizationModifier's start_epoch: 8.0), column 18.
RAMP = """modifiers:
  - !GMPruningModifier
    params: ["re:.*weight"]
    init_sparsity: 0.05
    final_sparsity: 0.8
    start_epoch: 0.0
    end_epoch: 10.0
    update_frequency: 1.0
  - !QuantizationModifier{comment}
    start_epoch: 8.0
"""


def lint(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli.lint_command, ["--format", "concise", *args])
    return result.exit_code, result.output


def test_the_recipe_fires_l333_unsuppressed(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(RAMP.format(comment=""))
    code, output = lint(str(path))
    assert code == 0 and re.search(r":10:\d+: L333 ", output), output


@pytest.mark.parametrize("entry", ["qat-during-ramp", "L33", "L333", "l333", "ALL", "L360, qat-during-ramp -- QAT early on purpose"])
def test_a_suppression_takes_what_the_configuration_takes(tmp_path: Path, entry: str) -> None:
    # A rule name and a code prefix silence the line, as `select`/`ignore` accept them; text after the entries is a comment.
    path = tmp_path / "r.yaml"
    text = RAMP.format(comment="").replace("    start_epoch: 8.0", f"    start_epoch: 8.0  # recipe-lint: disable={entry}")
    path.write_text(text)
    code, output = lint(str(path))
    expected_l300 = ["L360"] if entry.startswith("L360") else []
    assert [line.split()[1] for line in output.splitlines()[:-1]] == ["L300"] * len(expected_l300), output
    assert "L333" not in output and code == 0


def test_unused_and_misspelled_names_are_quoted_whole(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text("# recipe-lint: disable-file=qat-during-ramp, qat-durin-ramp\n" + RAMP.format(comment="").replace("8.0", "10.0"))
    _, output = lint(str(path))
    assert output.splitlines()[:2] == [
        f"{path}:1:1: L300 suppression of qat-durin-ramp names no rule or code; correct or remove it; did you mean 'qat-during-ramp'?",
        f"{path}:1:1: L300 suppression of qat-during-ramp silences nothing here; remove it",
    ]


def test_configuration_takes_rule_names_too(tmp_path: Path) -> None:
    (tmp_path / "recipe-lint.toml").write_text('ignore = ["qat-during-ramp"]\n')
    (tmp_path / "r.yaml").write_text(RAMP.format(comment=""))
    code, output = lint("--config", str(tmp_path / "recipe-lint.toml"), str(tmp_path / "r.yaml"))
    assert (code, output) == (0, "Checked 1 file: no problems.\n")


def test_per_file_ignores_are_relative_to_the_project_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.recipe-lint.per-file-ignores]\n"recipes/legacy/*" = ["L333"]\n')
    legacy = tmp_path / "recipes" / "legacy"
    legacy.mkdir(parents=True)
    (legacy / "r.yaml").write_text(RAMP.format(comment=""))
    for cwd, path in ((tmp_path, "recipes/legacy/r.yaml"), (legacy, "r.yaml"), (tmp_path / "recipes", "legacy/r.yaml")):
        monkeypatch.chdir(cwd)
        assert lint(path) == (0, "Checked 1 file: no problems.\n"), cwd


def test_sarif_uris_are_relative_to_the_project_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "recipe-lint.toml").write_text("strict = false\n")
    folder = tmp_path / "recipes"
    folder.mkdir()
    (folder / "r.yaml").write_text(RAMP.format(comment=""))
    monkeypatch.chdir(folder)
    result = CliRunner().invoke(cli.lint_command, ["--format", "sarif", "r.yaml"])
    location = json.loads(result.output)["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert location == {"uri": "recipes/r.yaml", "uriBaseId": "%SRCROOT%"}


def test_a_binary_checkpoint_given_to_params_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "r.yaml").write_text(RAMP.format(comment=""))
    checkpoint = tmp_path / "model.pt"
    checkpoint.write_bytes(b"PK\x03\x04" + bytes(range(256)))  # torch.save's zip archive
    code, output = lint("--params", str(checkpoint), str(tmp_path / "r.yaml"))
    assert code == 2
    assert f"recipekit params --checkpoint {checkpoint} -o params.json" in output


HOOK_FILES = {
    "recipes/README.md": "# Our recipes\n\nRun them with train.py.\n",
    "recipes/train_config.yaml": "lr: 0.1\nbatch_size: 64\n",
    "recipes/broken.yaml": "modifiers:\n  - !GMPruningModifer\n    final_sparsity: 0.5\n",
    "recipes/untagged.yaml": "modifiers:\n  - start_epoch: 0.0\n",
}


def test_the_pre_commit_hook_passes_named_files_that_are_not_recipes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, text in HOOK_FILES.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    monkeypatch.chdir(tmp_path)
    hooks = (ROOT / ".pre-commit-hooks.yaml").read_text()
    entries = re.findall(r"^  entry: (.*)$", hooks, re.M)
    assert entries == ["recipe-lint --only-recipes", "recipe-lint --only-recipes --fix"]
    options = entries[0].split()[1:]
    assert lint(*options, "recipes/README.md", "recipes/train_config.yaml") == (
        0,
        "Checked 0 files: no problems.\n"
        "Skipped 2 files that are not recipes (no modifier in them); without --only-recipes, name a file to check it anyway.\n",
    )
    code, output = lint(*options, *HOOK_FILES)
    assert code == 1
    assert [line.split(":")[0] + " " + line.split()[1] for line in output.splitlines()[:2]] == [
        "recipes/broken.yaml S201",
        "recipes/untagged.yaml S201",
    ]


def test_one_skipped_file_is_not_recipes(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("lr: 0.1\n")
    (tmp_path / "r.yaml").write_text(RAMP.format(comment="").replace("8.0", "10.0"))
    _, output = lint(str(tmp_path))
    assert output.splitlines()[-1] == "Skipped 1 file that is not a recipe (no modifier in it); name a file to check it anyway."


@pytest.mark.parametrize("command", [["compile", "--steps-per-epoch", "2"], ["show", "--steps-per-epoch", "2"], ["normalize"]])
def test_recipe_text_where_a_path_is_expected_says_so(command: list[str]) -> None:
    text = RAMP.format(comment="")
    result = CliRunner().invoke(cli.main, [command[0], text, *command[1:]])
    assert result.exit_code == 2
    assert "this is recipe text, not a path: save it to a file and pass the file's path" in result.output
    result = CliRunner().invoke(cli.lint_command, ["GMPruningModifier: {final_sparsity: 0.5}"])
    assert result.exit_code == 2 and "this is recipe text, not a path" in result.output


def test_expand_help_speaks_to_users() -> None:
    output = " ".join(CliRunner().invoke(cli.main, ["expand", "--help"]).output.split())
    assert "golden" not in output.lower()
    assert "one line per step where something changes" in output


INSTALL = re.compile(r"pip install ([^\n`|]*)")


def test_doc_install_lines_work_from_a_checkout() -> None:
    # recipekit is not on PyPI: a line that installs it names the checkout ('.[extra]' or a path/URL), never the bare name.
    for page in ["integrations.md", "export.md", "getting-started.md", "runtime.md"]:
        text = (ROOT / "docs" / page).read_text()
        for match in INSTALL.finditer(text):
            line = match.group(1)
            assert not re.search(r"(^|\s)'?recipekit(\[|'|\s|$)", line), (page, line)
    getting_started = (ROOT / "docs" / "getting-started.md").read_text()
    assert "jsonschema" not in getting_started.split("## ")[0] + getting_started.split("pip install -e .")[1].split("\n")[0]
