"""Which recipe format a YAML tree is written in: v1 (tags), v2 (stages) or neither.

v1 evidence is a YAML tag naming a modifier (``- !GMPruningModifier``).  v2
evidence is a top-level ``*_stage`` key, or an untagged mapping near the top
whose key is a modifier class name (``GPTQModifier:``), which is how a v2
recipe with a misspelled stage or group key still reads as v2 (and gets a
precise diagnostic rather than "no modifiers").  A file with both is
ambiguous: neither library reads it as the author meant.
"""

from __future__ import annotations

from recipekit.compiler.yaml_tree import Map, Node, Scalar, Seq
from recipekit.diagnostics import Diagnostic
from recipekit.source import Source, Span

V1, V2, NEITHER = "v1", "v2", "neither"
#: How deep a v2 modifier name can sit: stage → group → Type (→ list item).
_DEPTH = 4


def _modifier_name(key: Scalar) -> bool:
    return isinstance(key.value, str) and key.value.endswith("Modifier") and key.value[:1].isupper()


def _v1_tag(node: Node) -> Span | None:
    stack: list[Node] = [node]
    while stack:
        current = stack.pop()
        if current.tag is not None and current.tag.startswith("!") and current.tag.endswith("Modifier"):
            return current.tag_span or current.span
        if current.alias_of is not None:
            continue
        if isinstance(current, Seq):
            stack.extend(current.items)
        elif isinstance(current, Map):
            stack.extend(value for _, value in current.entries)
    return None


def _v2_key(root: Map) -> Scalar | None:
    for key, value in root.entries:
        # A v1 stage may be named `*_stage` too: it holds tagged modifiers.
        if isinstance(key.value, str) and key.value.endswith("_stage") and value.tag is None and _v1_tag(value) is None:
            return key
    stack: list[tuple[Node, int]] = [(value, 1) for _, value in root.entries]
    while stack:
        current, depth = stack.pop(0)
        if current.tag is not None or depth > _DEPTH:
            continue
        if isinstance(current, Map):
            for key, value in current.entries:
                if _modifier_name(key) and value.tag is None and isinstance(value, (Map, Scalar)):
                    return key
                stack.append((value, depth + 1))
        elif isinstance(current, Seq):
            stack.extend((item, depth + 1) for item in current.items)
    return None


def detect_format(root: Node, source: Source) -> tuple[str, list[Diagnostic]]:
    if not isinstance(root, Map) or root.tag is not None:
        return (V1 if _v1_tag(root) is not None else NEITHER), []
    v1, v2 = _v1_tag(root), _v2_key(root)
    if v1 is not None and v2 is not None:
        note = source.note("a v1 modifier tag is here", v1)
        message = (
            f"this file mixes the two recipe formats: {v2.text!r} is v2 (llm-compressor / SparseML 1.7+ stages, modifiers "
            "keyed by class name) but it also has v1 modifier tags (`- !Modifier`), which no v2 loader reads. "
            "Write the recipe in one format"
        )
        return V2, [source.diag("S215", v2.span, message, (note,))]
    if v2 is not None:
        return V2, []
    return (V1 if v1 is not None else NEITHER), []
