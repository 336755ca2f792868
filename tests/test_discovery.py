"""`recipe-lint DIRECTORY`: what a walk checks, skips and says it skipped."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from recipekit import __version__, cli
from recipekit.lint.discovery import Walk, is_recipe

ROOT = Path(__file__).resolve().parents[1]
V1 = (ROOT / "examples" / "plain.yaml").read_text(encoding="utf-8")
V2 = "quant_stage:\n  quant_modifiers:\n    QuantizationModifier:\n      scheme: W8A8\n      targets: [Linear]\n"
WORKFLOW = "name: ci\non: [push]\njobs:\n  test:\n    runs-on: ubuntu-latest\n"


def _tree(root: Path) -> None:
    files = {
        "recipes/a.yaml": V1,
        "recipes/typo.yaml": V1.replace("Modifier", "Modifer"),
        "recipes/v2.yml": V2,
        "recipes/card.md": "<!-- licence -->\n---\n" + V1 + "---\n# A model card\n",
        "README.md": "# Project\n\n```yaml\nmodifiers:\n  - !GMPruningModifier\n```\n",
        "config.yaml": "lr: 0.1\nbatch_size: 64\n",
        ".github/workflows/ci.yml": WORKFLOW,
        ".venv/lib/site.yaml": V1,
        "myenv/pyvenv.cfg": "home = /usr/bin\n",
        "myenv/lib/r.yaml": V1,
        "node_modules/pkg/r.yaml": V1,
        "old/r.yaml": V1,
        "outputs/run1/recipe.yaml": V1,
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")


def _relative(root: Path, paths: list[Path]) -> list[str]:
    return [p.relative_to(root).as_posix() for p in paths]


def test_a_walk_checks_recipes_only_and_skips_hidden_venv_and_excluded(tmp_path: Path) -> None:
    _tree(tmp_path)
    walk = Walk(("old",))
    found = _relative(tmp_path, list(walk.paths((tmp_path,))))
    assert found == ["outputs/run1/recipe.yaml", "recipes/a.yaml", "recipes/card.md", "recipes/typo.yaml", "recipes/v2.yml"]
    assert walk.skipped == 2  # README.md (no front matter), config.yaml (no modifier)


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_a_walk_skips_what_git_ignores(tmp_path: Path) -> None:
    _tree(tmp_path)
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / ".gitignore").write_text("outputs/\n*.md\n")
    walk = Walk()
    found = _relative(tmp_path, list(walk.paths((tmp_path,))))
    assert found == ["old/r.yaml", "recipes/a.yaml", "recipes/typo.yaml", "recipes/v2.yml"]
    assert walk.skipped == 1  # config.yaml


def test_the_summary_counts_skipped_files_and_explicit_files_are_checked_in_full(tmp_path: Path) -> None:
    _tree(tmp_path)
    runner = CliRunner()
    result = runner.invoke(cli.lint_command, ["--format", "concise", "--exclude", "old", "--exclude", "recipes/typo.yaml", str(tmp_path)])
    lines = result.output.splitlines()
    assert lines[-1] == "Skipped 2 files that are not recipes (no modifier in them); name a file to check it anyway."
    assert lines[-2].startswith("Checked 4 files: ")
    assert ".github" not in result.output and ".venv" not in result.output and "config.yaml" not in result.output
    # Named on the command line: checked, whatever it holds and wherever it is.
    named = runner.invoke(cli.lint_command, ["--format", "concise", str(tmp_path / "config.yaml"), str(tmp_path / ".venv/lib/site.yaml")])
    assert f"{tmp_path / 'config.yaml'}:1:1: S200" in named.output
    assert named.output.splitlines()[-1] == "Checked 2 files: 1 error."


def test_version() -> None:
    result = CliRunner().invoke(cli.lint_command, ["--version"], prog_name="recipe-lint")
    assert (result.exit_code, result.output) == (0, f"recipe-lint, version {__version__}\n")


def test_the_recipe_rule(tmp_path: Path) -> None:
    cases = {
        "tag.yaml": ("- !pytorch.GMPruningModifier\n", True),
        "v2.yaml": ("stage:\n  modifiers:\n    SparseGPTModifier:\n      sparsity: 0.5\n", True),
        "plain.yaml": ("modifiers: []\nname: GMPruningModifier\n", False),
        "no_front_matter.md": ("Use `- !GMPruningModifier`.\n", False),
        "front_matter.md": ("---\nmodifiers:\n  - !EpochRangeModifier\n---\n", True),
    }
    for name, (text, expected) in cases.items():
        (tmp_path / name).write_text(text)
        assert is_recipe(tmp_path / name) is expected, name
