"""Modifier keys written twice in one v2 group (the YAML loader keeps the last)."""

from __future__ import annotations

import re

from recipekit.compiler.v2.model import V2Recipe
from recipekit.compiler.yaml_tree import compose
from recipekit.diagnostics import Diagnostic, Location
from recipekit.source import Source, Span


def _offsets(text: str) -> list[int]:
    return [0] + [m.end() for m in re.finditer(r"\r\n|\n|\r(?!\n)", text)]


def _span(starts: list[int], location: Location) -> Span:
    return Span(starts[location.line - 1] + location.column - 1, starts[location.end_line - 1] + location.end_column - 1)


def duplicate_modifiers(recipe: V2Recipe, source: Source) -> list[tuple[Span, Span]]:
    """(the key that is kept, the one dropped) for each modifier written twice in a group."""
    kept = {m.key.span for m in recipe.modifiers}
    starts = _offsets(source.text)
    found = []
    for diagnostic in compose(source)[1]:
        if diagnostic.code != "P111":
            continue
        later = _span(starts, diagnostic.location)
        if later in kept and diagnostic.notes and diagnostic.notes[0].location is not None:
            found.append((later, _span(starts, diagnostic.notes[0].location)))
    return found


def drop_reported(diagnostics: list[Diagnostic], recipe: V2Recipe, source: Source) -> list[Diagnostic]:
    """Without the P111 errors on modifier keys: the lint rule v2-duplicate-modifier reports them,
    saying what the libraries do (keep the last); the recipe still loads, as it does for them."""
    kept = {m.key.span for m in recipe.modifiers}
    starts = _offsets(source.text)
    return [d for d in diagnostics if d.code != "P111" or _span(starts, d.location) not in kept]
