"""Every `console` example of the README and docs/getting-started.md runs and prints what is shown.

Blocks of one document run in order in one directory holding a copy of `examples/` (a later
block may use a file an earlier one wrote). Each `$ command` runs in bash; its stdout and
stderr together must equal the lines shown under it, where a line `...` stands for any number
of lines.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = ["README.md", "docs/getting-started.md"]
_BLOCK = re.compile(r"^```console\n(.*?)^```$", re.S | re.M)


def examples(document: str) -> list[tuple[str, list[str]]]:
    """(command, expected output lines) of every `$` line of the document's console blocks."""
    found: list[tuple[str, list[str]]] = []
    for block in _BLOCK.findall((ROOT / document).read_text(encoding="utf-8")):
        for line in block.splitlines():
            if line.startswith("$ "):
                found.append((line[2:], []))
            else:
                assert found, f"{document}: output before any command: {line!r}"
                found[-1][1].append(line)
    return found


def matches(expected: list[str], actual: list[str]) -> bool:
    """Line-by-line equality (trailing spaces ignored), `...` matching any run of lines."""
    if not expected:
        return not actual
    head, rest = expected[0], expected[1:]
    if head.strip() == "...":
        return any(matches(rest, actual[i:]) for i in range(len(actual) + 1))
    return bool(actual) and actual[0].rstrip() == head.rstrip() and matches(rest, actual[1:])


@pytest.mark.parametrize("document", DOCUMENTS)
def test_console_examples_print_what_they_show(document: str, tmp_path: Path) -> None:
    found = examples(document)
    assert found, f"{document} has no console example"
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    environment = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}", "NO_COLOR": "1"}
    environment.pop("GITHUB_ACTIONS", None)  # the default output format would change
    for command, expected in found:
        if "--plot" in command and not _has("matplotlib"):
            pytest.skip("matplotlib is not installed")
        result = subprocess.run(
            ["bash", "-c", command],
            check=False,
            cwd=tmp_path,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=120,
        )
        actual = result.stdout.splitlines()
        assert matches(expected, actual), f"{document}: $ {command}\n--- shown\n" + "\n".join(expected) + "\n--- printed\n" + result.stdout


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def test_ci_instructions_work_for_an_unpublished_project() -> None:
    text = (ROOT / "docs" / "ci.md").read_text(encoding="utf-8")
    # recipekit is not on PyPI: every install names where the source is.
    installs = re.findall(r"^\s*(?:- run: )?pip install (.+)$", text, re.M)
    assert installs and all(i.startswith(('"recipekit @ git+', "./")) for i in installs), installs
    # pre-commit's rev is explained (a tag someone pushed, or a commit), and a local hook needs none.
    assert "rev: v0.1.0" not in text and "git rev-parse HEAD" in text and "repo: local" in text
