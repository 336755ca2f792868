"""v2 recipes embedded in a configuration file as literal block strings.

llm-compressor's and SparseML's test configurations carry their recipe as a
string (``recipe: |`` followed by the recipe, indented).  The library loads
that string as YAML.  We check it where it is written: the file's text with
everything outside the block blanked (newlines kept) is itself valid YAML with
the recipe at the same offsets, so every diagnostic lands on the right line and
column of the file the user opened.
"""

from __future__ import annotations

from recipekit.compiler.yaml_tree import Map, Node, Scalar
from recipekit.source import Source


def embedded_sources(root: Node, source: Source) -> list[Source]:
    """One source per top-level literal block (``key: |``) that holds a recipe-shaped mapping."""
    if not isinstance(root, Map):
        return []
    found = []
    for _, value in root.entries:
        if isinstance(value, Scalar) and value.style == "|" and isinstance(value.value, str) and "_stage" in value.value:
            start = source.text.find("\n", value.span.start, value.span.end)
            if start >= 0:
                found.append(_masked(source, start + 1, value.span.end))
    return found


def _masked(source: Source, start: int, end: int) -> Source:
    text = source.text
    blank = "".join(c if c in "\r\n" else " " for c in text[:start])
    tail = "".join(c if c in "\r\n" else " " for c in text[end:])
    return Source(source.path, blank + text[start:end] + tail, source.yaml_start, source.yaml_end, source.bom)
