"""pytest hooks for the whole suite (keep this file small: it is loaded before every test run)."""

from __future__ import annotations

import sys
from typing import Any


def pytest_terminal_summary(terminalreporter: Any) -> None:
    # Once per run: the fixture tests say when they compared within a tolerance instead of bitwise.
    # Looked up, not imported: a run that never touched a fixture must not import torch here.
    compare = sys.modules.get("tests.fixture_compare")
    lines = compare.notice() if compare is not None else []
    if lines:
        terminalreporter.write_sep("-", "SparseML fixtures: not bitwise on this machine")
        for line in lines:
            terminalreporter.write_line(line)
