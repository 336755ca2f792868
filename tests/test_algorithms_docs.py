"""The oBERT-style example in docs/runtime.md runs as printed and reaches the recipe's sparsity."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

pytest.importorskip("torch")

DOC = Path(__file__).resolve().parents[1] / "docs" / "runtime.md"


def test_obert_example_runs() -> None:
    section = DOC.read_text(encoding="utf-8").split("### An oBERT-style run", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code.group(1), str(DOC), "exec"), {"__name__": "docs_example"})  # our own documentation
    assert printed.getvalue().strip() == "sparsity 0.70"
