"""Linting many files keeps memory flat: each file's report is written and forgotten."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RECIPE_LINT = Path(sys.executable).parent / "recipe-lint"
#: Old behaviour (every diagnostic and source text kept to the end) grew ~2.2 MB from 150 to 900 files.
MAX_GROWTH_KB = 1024


def peak_rss_kb(directory: Path) -> tuple[int, str]:
    """Peak RSS of a recipe-lint run, measured by a fresh parent whose only child it is."""
    probe = (
        "import resource, subprocess, sys\n"
        f"result = subprocess.run([{str(RECIPE_LINT)!r}, {str(directory)!r}], capture_output=True, text=True)\n"
        "print(result.returncode, result.stdout.splitlines()[-1])\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    lines = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.splitlines()
    return int(lines[-1]), lines[-2]


def test_memory_stays_flat_from_150_to_900_files(tmp_path: Path) -> None:
    text = (ROOT / "examples" / "plain.yaml").read_text(encoding="utf-8").rstrip("\n") + "\n    typo_key: 1\n"
    few, many = tmp_path / "few", tmp_path / "many"
    for directory, count in ((few, 150), (many, 900)):
        directory.mkdir()
        for index in range(count):
            (directory / f"r{index:04d}.yaml").write_text(text, encoding="utf-8")
    few_rss, few_summary = peak_rss_kb(few)
    many_rss, many_summary = peak_rss_kb(many)
    assert (few_summary, many_summary) == ("1 Checked 150 files: 150 errors.", "1 Checked 900 files: 900 errors.")
    assert many_rss - few_rss < MAX_GROWTH_KB, (few_rss, many_rss)
