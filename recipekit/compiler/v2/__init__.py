"""The v2 (stage-format) front-end: llm-compressor and SparseML 1.7+ recipes.

tree → :func:`~recipekit.compiler.v2.structure.read_structure` (stages,
groups, modifiers, as the libraries read them) →
:func:`~recipekit.compiler.v2.check.check_modifiers` (each modifier against
both libraries' schemas; the dialect that accepts the recipe is reported).
Shape problems the libraries skip silently are lint rules
(``lint_rules/v2_*.py``), which read the same structure through
:func:`read_v2`.  recipekit lints v2 recipes; it does not compile them (their
one-shot algorithms are out of the runtime's scope, see docs/v2.md).
"""

from __future__ import annotations

from recipekit.compiler.v2.check import check_modifiers
from recipekit.compiler.v2.detect import NEITHER, V1, V2, detect_format
from recipekit.compiler.v2.duplicates import drop_reported
from recipekit.compiler.v2.embedded import embedded_sources
from recipekit.compiler.v2.model import V2Modifier, V2Recipe
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


__all__ = ["NEITHER", "V1", "V2", "V2Modifier", "V2Recipe", "detect_format", "load_embedded", "load_v2", "read_v2", "v2_views"]
