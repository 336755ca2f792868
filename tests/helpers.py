"""Shared test helpers: load recipe text and look at (line, column, code) triples."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path
from typing import Any

from recipekit.compiler import load_text
from recipekit.diagnostics import Diagnostic
from recipekit.ir import Recipe

#: ../shared beside the repository; RECIPEKIT_SHARED points elsewhere (a git worktree has no sibling shared/).
SHARED = Path(os.environ.get("RECIPEKIT_SHARED") or Path(__file__).resolve().parents[1].parent / "shared")
CORPUS = SHARED / "corpus"
GOLDEN = SHARED / "golden"


def load(text: str, markdown: bool | None = False, overrides: dict[str, Any] | None = None) -> tuple[Recipe | None, list[Diagnostic]]:
    return load_text(textwrap.dedent(text).lstrip("\n"), path="r.yaml", markdown=markdown, overrides=overrides)


def found(text: str, markdown: bool | None = False, overrides: dict[str, Any] | None = None) -> list[tuple[int, int, str]]:
    """The (line, column, code) of every diagnostic, in order."""
    _, diagnostics = load(text, markdown, overrides)
    return [(d.location.line, d.location.column, d.code) for d in diagnostics]


def ok(text: str, overrides: dict[str, Any] | None = None) -> Recipe:
    recipe, diagnostics = load(text, overrides=overrides)
    assert diagnostics == [], diagnostics
    assert recipe is not None
    return recipe


EPOCH_RANGE = """
modifiers:
  - !EpochRangeModifier
    start_epoch: 0.0
    end_epoch: 10.0
"""
