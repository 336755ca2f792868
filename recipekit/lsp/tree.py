"""Where an offset falls in the YAML node tree: which modifier, which key, which value."""

from __future__ import annotations

from recipekit.compiler.yaml_tree import Map, Node, Scalar, Seq, compose
from recipekit.lsp.schemas import tag_name
from recipekit.source import Source, Span


def _inside(span: Span | None, offset: int) -> bool:
    return span is not None and span.start <= offset <= span.end


class Spot:
    """The place under the cursor."""

    __slots__ = ("tag_of", "modifier", "v2_modifier", "key", "value", "group_key")

    def __init__(self) -> None:
        #: The node whose modifier tag is under the cursor.
        self.tag_of: Node | None = None
        #: The enclosing v1 modifier's mapping, or the v2 modifier's argument mapping.
        self.modifier: Node | None = None
        #: The v2 modifier's name key (v2 recipes name the modifier by a mapping key).
        self.v2_modifier: Scalar | None = None
        #: The key under the cursor, or whose value is.
        self.key: Scalar | None = None
        self.value: Node | None = None
        #: The key of a v2 modifier group (``*_modifiers``) whose mapping holds the cursor's key.
        self.group_key: Scalar | None = None


def parse(source: Source) -> Node | None:
    tree, _ = compose(source)
    return tree


def locate(root: Node, offset: int) -> Spot:
    spot = Spot()
    node: Node | None = root
    parent_key: Scalar | None = None
    while node is not None:
        if node.alias_of is not None:
            break  # an alias copy's spans are the alias's, not its children's
        if _inside(node.tag_span, offset) and tag_name(node.tag) is not None:
            spot.tag_of = node
            return spot
        if tag_name(node.tag) is not None:
            spot.modifier, spot.v2_modifier, spot.key, spot.value = node, None, None, None
        elif isinstance(node, Map) and parent_key is not None and _is_v2_modifier(parent_key, spot):
            spot.modifier, spot.v2_modifier = node, parent_key
        following: Node | None = None
        if isinstance(node, Map):
            for key, value in node.entries:
                if _inside(key.span, offset):
                    spot.key, spot.value = key, value
                    _mark_group(spot, node, parent_key)
                    return spot
                if _inside(value.span, offset):
                    spot.key, spot.value = key, value
                    _mark_group(spot, node, parent_key)
                    following, parent_key = value, key
                    break
        elif isinstance(node, Seq):
            for item in node.items:
                if _inside(item.span, offset) or _inside(item.tag_span, offset):
                    following, parent_key = item, None
                    break
        node = following
    return spot


def _is_v2_modifier(key: Scalar, spot: Spot) -> bool:
    return spot.group_key is not None and isinstance(key.value, str) and key.value.endswith("Modifier")


def _mark_group(spot: Spot, node: Map, parent_key: Scalar | None) -> None:
    """Remember a v2 group (``*_modifiers:`` holding a mapping of modifier names)."""
    if parent_key is not None and isinstance(parent_key.value, str) and parent_key.value.endswith("modifiers") and node.tag is None:
        spot.group_key = parent_key
