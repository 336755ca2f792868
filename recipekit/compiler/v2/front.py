"""The v2 front-end's entry points: the views lint rules read, and the diagnostics `load_source` reports."""

from __future__ import annotations

from recipekit.compiler.v2.check import check_modifiers
from recipekit.compiler.v2.detect import V1, V2, detect_format
from recipekit.compiler.v2.duplicates import drop_reported
from recipekit.compiler.v2.embedded import embedded_sources
from recipekit.compiler.v2.model import V2Recipe
from recipekit.compiler.v2.structure import read_structure
from recipekit.compiler.yaml_tree import Map, Node, compose
from recipekit.diagnostics import Diagnostic
from recipekit.source import Source


def v2_views(root: Node, source: Source) -> list[tuple[V2Recipe, Source]]:
    """The file's v2 recipes: itself, or those embedded as literal strings (``recipe: |``) in a config."""
    recipe_format, _ = detect_format(root, source)
    if recipe_format == V2:
        recipe, _ = read_v2(root, source)
        return [(recipe, source)] if recipe is not None else []
    if recipe_format == V1:
        return []
    views = []
    for inner in embedded_sources(root, source):
        tree, _ = compose(inner)
        if tree is not None and detect_format(tree, inner)[0] == V2:
            recipe, _ = read_v2(tree, inner)
            if recipe is not None:
                views.append((recipe, inner))
    return views


def load_embedded(root: Node, source: Source) -> list[Diagnostic] | None:
    """Diagnostics of the v2 recipes embedded in a config file; None when it embeds none."""
    sources = [inner for inner in embedded_sources(root, source)]
    diagnostics: list[Diagnostic] = []
    seen = 0
    for inner in sources:
        tree, problems = compose(inner)
        if tree is None or detect_format(tree, inner)[0] != V2:
            continue
        seen += 1
        diagnostics += load_v2(tree, inner, problems)
    return diagnostics if seen else None


def read_v2(root: Node, source: Source) -> tuple[V2Recipe | None, list[Diagnostic]]:
    """The recipe's v2 structure with its dialect decided, and every front-end diagnostic."""
    if not isinstance(root, Map):
        return None, []
    recipe, diagnostics = read_structure(root, source)
    diagnostics += check_modifiers(recipe, source)
    return recipe, diagnostics


def load_v2(root: Node, source: Source, parsed: list[Diagnostic]) -> list[Diagnostic]:
    """Every diagnostic of a v2 recipe's front-end, given the YAML stage's (``parsed``)."""
    recipe, diagnostics = read_v2(root, source)
    if recipe is not None:
        parsed = drop_reported(parsed, recipe, source)
    return parsed + diagnostics
