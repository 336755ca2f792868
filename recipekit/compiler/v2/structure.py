"""Read a v2 recipe's stages, groups and modifiers the way the libraries do.

llm-compressor (``Recipe.from_dict``) reads a top-level key ending in
``_stage`` whose value is a mapping, then inside it each key ending in
``_modifiers`` whose value is a mapping, then each ``Type: {args}`` entry.
Anything else is skipped without a word.  SparseML 1.8 also reads top-level
``*_modifiers`` mappings (a ``default`` stage) and keeps every other key as a
recipe variable.  This module records what is read; the lint rules
(``lint_rules/v2_*.py``) report what is skipped.
"""

from __future__ import annotations

from recipekit.compiler.v2.model import V2Modifier, V2Recipe
from recipekit.compiler.yaml_tree import Map, Node, Scalar
from recipekit.diagnostics import Diagnostic
from recipekit.source import Source


def is_stage_key(key: Scalar) -> bool:
    return isinstance(key.value, str) and key.value.endswith("_stage")


def is_group_key(key: Scalar) -> bool:
    return isinstance(key.value, str) and key.value.endswith("_modifiers")


def read_structure(root: Map, source: Source) -> tuple[V2Recipe, list[Diagnostic]]:
    recipe = V2Recipe(root)
    diagnostics: list[Diagnostic] = []
    for key, value in root.entries:
        if is_stage_key(key) and isinstance(value, Map):
            stage = key.text.removesuffix("_stage")
            for group_key, group in value.entries:
                if is_group_key(group_key) and isinstance(group, Map):
                    _read_group(recipe, group_key, group, stage, source, diagnostics)
        elif is_group_key(key) and isinstance(value, Map):
            _read_group(recipe, key, value, None, source, diagnostics)
        elif not is_stage_key(key) and not is_group_key(key):
            recipe.variables[key.text] = (key, value)
    return recipe, diagnostics


def _read_group(recipe: V2Recipe, key: Scalar, group: Map, stage: str | None, source: Source, diagnostics: list[Diagnostic]) -> None:
    name = key.text.removesuffix("_modifiers")
    for type_key, args in group.entries:
        if not _args_ok(type_key, args, source, diagnostics):
            continue
        recipe.modifiers.append(V2Modifier(type_key, args, stage, name, key))


def _args_ok(key: Scalar, args: Node, source: Source, diagnostics: list[Diagnostic]) -> bool:
    if isinstance(args, Map):
        return True
    if isinstance(args, Scalar) and args.value is None:
        message = (
            f"{key.text} has no arguments: llm-compressor fails on an empty entry (`None` has no `.get`). "
            f"Write `{key.text}: {{}}` to use every default"
        )
        diagnostics.append(source.diag("S221", key.span, message))
        return False
    message = f"the arguments of {key.text} must be a mapping of `name: value`, not {_kind(args)}"
    diagnostics.append(source.diag("S221", args.span, message))
    return False


def _kind(node: Node) -> str:
    from recipekit.compiler.validate import describe

    return describe(node)
