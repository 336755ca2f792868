"""Document symbols: each modifier with its epoch range, under its stage (v1) or stage and group (v2)."""

from __future__ import annotations

from typing import Any

from lsprotocol import types as lsp

from recipekit.compiler.yaml_tree import Map, Node, Scalar, Seq
from recipekit.ir import Recipe
from recipekit.lsp.convert import lsp_range
from recipekit.lsp.schemas import tag_name
from recipekit.source import Source, Span


def symbols(source: Source, tree: Node | None, recipe: Recipe | None, encoding: str) -> list[lsp.DocumentSymbol]:
    if not isinstance(tree, Map):
        return []
    built = {m.span: m for m in recipe.modifiers} if recipe is not None else {}

    def rng(span: Span) -> lsp.Range:
        return lsp_range(source, source.location(span), encoding)

    def modifier(item: Node) -> lsp.DocumentSymbol | None:
        name = tag_name(item.tag)
        if name is None and (item.tag is None or not item.tag.startswith("!")):
            return None
        name = name or str(item.tag)[1:]  # an unknown tag (a typo) is listed as written
        params = built.get(item.tag_span or item.span)
        start = params.value("start_epoch") if params is not None and "start_epoch" in params.params else _written(item, "start_epoch")
        end = params.value("end_epoch") if params is not None and "end_epoch" in params.params else _written(item, "end_epoch")
        selection = item.tag_span or item.span
        whole = Span(min(selection.start, item.span.start), max(selection.end, item.span.end))
        return lsp.DocumentSymbol(name, lsp.SymbolKind.Class, rng(whole), rng(selection), detail=_epochs(start, end))

    def v2_modifier(key: Scalar, value: Node) -> lsp.DocumentSymbol:
        start, end = _written(value, "start"), _written(value, "end")
        whole = Span(key.span.start, max(key.span.end, value.span.end))
        return lsp.DocumentSymbol(str(key.value), lsp.SymbolKind.Class, rng(whole), rng(key.span), detail=_epochs(start, end))

    def container(key: Scalar, value: Node, depth: int) -> lsp.DocumentSymbol | None:
        children: list[lsp.DocumentSymbol] = []
        if isinstance(value, Seq):
            children = [s for s in (modifier(item) for item in value.items) if s is not None]
        elif isinstance(value, Map) and depth < 3:
            for child_key, child in value.entries:
                if isinstance(child_key.value, str) and child_key.value.endswith("Modifier") and isinstance(child, (Map, Scalar)):
                    children.append(v2_modifier(child_key, child))
                else:
                    found = container(child_key, child, depth + 1)
                    if found is not None:
                        children.append(found)
        if not children:
            return None
        whole = Span(key.span.start, max(key.span.end, value.span.end))
        return lsp.DocumentSymbol(str(key.value), lsp.SymbolKind.Namespace, rng(whole), rng(key.span), children=children)

    found = [container(key, value, 0) for key, value in tree.entries]
    return [s for s in found if s is not None]


def _written(node: Node, key: str) -> Any:
    value = node.get(key) if isinstance(node, Map) else None
    return value.value if isinstance(value, Scalar) else None


def _epochs(start: Any, end: Any) -> str:
    def show(value: Any) -> str:
        if isinstance(value, float) and value.is_integer():
            return f"{value:g}"
        return "?" if value is None else str(value)

    if start is None and end is None:
        return ""
    return f"epochs {show(start)} → {show(end)}"
