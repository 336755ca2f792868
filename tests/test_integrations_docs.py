"""Every example of docs/integrations.md runs as printed, in its own process, and prints the line shown under it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "integrations.md"
_EXAMPLE = re.compile(r"^## (.+?)$.*?^```python\n(.*?)^```\n\n```text\n(.*?)^```", re.S | re.M)
#: The section's heading → the package it needs besides torch.
NEEDS = {"Hugging Face Trainer": "transformers", "Lightning Trainer": "lightning"}


def examples() -> list[tuple[str, str, str]]:
    return [(title, code, output) for title, code, output in _EXAMPLE.findall(DOC.read_text(encoding="utf-8"))]


def test_every_section_has_an_example() -> None:
    titles = [title for title, _, _ in examples()]
    assert titles == [
        "Hugging Face Trainer",
        "Lightning Trainer",
        "A plain training loop",
        "DistributedDataParallel",
        "FSDP2 (`fully_shard`)",
    ]


@pytest.mark.parametrize(("title", "code", "output"), examples(), ids=[title for title, _, _ in examples()])
def test_example_prints_what_the_doc_shows(title: str, code: str, output: str, tmp_path: Path) -> None:
    if title in NEEDS:
        pytest.importorskip(NEEDS[title])
    if "torch.distributed" in code:
        torch = pytest.importorskip("torch")
        if not torch.distributed.is_available():
            pytest.skip("torch.distributed is not available")
    script = tmp_path / "example.py"
    script.write_text(code, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    printed = [line for line in result.stdout.splitlines() if line.strip()]
    assert printed[-len(output.splitlines()) :] == output.splitlines(), result.stdout[-2000:]
    # A copy-pasted example runs as the recipe says: nothing recipekit would warn about.
    for warning in ("IntegrationWarning", "RecipeRuntimeWarning", "DistillationSkipped"):
        assert warning not in result.stderr, result.stderr[-3000:]


def test_the_readme_and_the_runtime_guide_link_to_it() -> None:
    assert "](docs/integrations.md)" in (ROOT / "README.md").read_text(encoding="utf-8")
    assert "](integrations.md)" in (ROOT / "docs" / "runtime.md").read_text(encoding="utf-8")
