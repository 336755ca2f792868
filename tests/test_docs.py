"""Docs generated from code stay current, and every code the code emits is documented."""

from __future__ import annotations

import re
from pathlib import Path

from recipekit import limits
from recipekit.lint.docs import diagnostics_markdown
from recipekit.lint_rules import codes

ROOT = Path(__file__).resolve().parents[1]


def test_diagnostics_page_is_current() -> None:
    page = (ROOT / "docs" / "diagnostics.md").read_text(encoding="utf-8")
    assert page == diagnostics_markdown(), "docs/diagnostics.md is stale: run `recipekit codes > docs/diagnostics.md`"


def test_every_emitted_code_is_registered_and_every_registered_code_is_emitted() -> None:
    emitted: set[str] = set()
    for path in (ROOT / "recipekit").rglob("*.py"):
        if path.name in ("diagnostics.py", "docs.py"):
            continue
        emitted |= set(re.findall(r'"([PSLC]\d{3})"', path.read_text(encoding="utf-8")))
    table = codes()
    assert emitted <= set(table), emitted - set(table)
    assert set(table) <= emitted, set(table) - emitted


def test_every_limit_is_documented() -> None:
    page = (ROOT / "docs" / "reliability.md").read_text(encoding="utf-8")
    for name in dir(limits):
        if name.isupper():
            assert f"`{name}`" in page, f"{name} is not documented in docs/reliability.md"
            assert f"{getattr(limits, name):,}" in page or str(getattr(limits, name)) in page, name


def test_rules_page_is_current() -> None:
    from recipekit.lint.docs import rules_markdown

    page = (ROOT / "docs" / "rules.md").read_text(encoding="utf-8")
    assert page == rules_markdown(), "docs/rules.md is stale: run `recipekit rules --markdown > docs/rules.md`"
