"""Helpers shared by the v2 (stage-format) rules."""

from __future__ import annotations

import re
from collections.abc import Iterator

from recipekit.compiler.v2.model import V2Modifier, V2Recipe
from recipekit.compiler.v2.structure import is_group_key, is_stage_key
from recipekit.compiler.yaml_tree import Map, Node, Scalar, Seq
from recipekit.lint_rules._context import LintContext


def recipes(ctx: LintContext) -> Iterator[V2Recipe]:
    for recipe, _ in ctx.v2:
        yield recipe


def modifiers(ctx: LintContext) -> Iterator[V2Modifier]:
    for recipe in recipes(ctx):
        yield from recipe.modifiers


def looks_like(key: str, suffix: str) -> bool:
    """``quant_stag``, ``quant-stage``, ``quant_stages``, ``quant_modifers``: meant to end in ``_<suffix>``."""
    if key.endswith("_" + suffix):
        return False
    import difflib  # only v2 recipes get here; a cold v1 lint does not pay for it

    last = re.split(r"[_\-. ]", key.lower())[-1]
    tail = key.lower()[-len(suffix) - 1 :]
    return (
        difflib.SequenceMatcher(None, last, suffix).ratio() >= 0.75
        or difflib.SequenceMatcher(None, tail, suffix).ratio() >= 0.8
        or key.lower().endswith(suffix)
    )


def suggestion(key: str, suffix: str) -> str:
    stem = re.split(r"[_\-. ]", key)[0] if re.search(r"[_\-. ]", key) else re.sub(suffix[:4] + ".*$", "", key, flags=re.I)
    return f"{stem or 'my'}_{suffix}"


def holds_modifiers(node: Node) -> bool:
    """A mapping keyed by modifier class names (or a list of them)."""
    items = node.items if isinstance(node, Seq) else [node]
    return any(
        isinstance(item, Map) and any(isinstance(k.value, str) and k.value.endswith("Modifier") for k, _ in item.entries) for item in items
    )


def holds_groups(node: Node) -> bool:
    return isinstance(node, Map) and any(is_group_key(k) or looks_like(k.text, "modifiers") for k, _ in node.entries)


def stages(root: Map) -> Iterator[tuple[Scalar, Map]]:
    for key, value in root.entries:
        if is_stage_key(key) and isinstance(value, Map):
            yield key, value


def strings(node: Node) -> Iterator[Scalar]:
    """The string entries of a `targets`/`ignore` value (a string or a list of strings)."""
    items = node.items if isinstance(node, Seq) else [node]
    for item in items:
        if isinstance(item, Scalar) and isinstance(item.value, str):
            yield item
