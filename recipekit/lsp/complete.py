"""Completion, from the text around the cursor (a buffer being typed rarely parses).

The enclosing modifier is found by indentation, as YAML block style nests: the nearest line
above with less indentation is the parent. Offered: modifier tags after ``!`` (v1), modifier
names under a ``*_modifiers:`` key (v2), the enclosing modifier's keys not yet written (with
their defaults as snippets), enumerated values after ``key:``, and recipe variables inside
``eval(...)``.
"""

from __future__ import annotations

import re
from typing import Any

from lsprotocol import types as lsp

from recipekit import schema as v1
from recipekit.lsp import schemas

_TAG = re.compile(r"!([\w.]*)$")
_EVAL = re.compile(r"eval\(([^()]*)$")
_WORD = re.compile(r"[A-Za-z_]\w*$")
_VALUE = re.compile(r"^\s*(?:-\s+)?([A-Za-z_]\w*)\s*:\s+([^\s#]*)$")
_KEY_LINE = re.compile(r"^(\s*)(?:-\s+)?([A-Za-z_][\w.]*)\s*:")
_ITEM_TAG = re.compile(r"^(\s*)-\s+!(?:pytorch\.)?(\w+)")
_VARIABLE = re.compile(r"^([A-Za-z_]\w*)\s*:\s*(\S.*?)\s*(?:#.*)?$")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _meaningful(line: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith("#") and stripped not in ("---", "+++")


class Parent:
    """The line that encloses the cursor's line, and the keys written beside the cursor."""

    __slots__ = ("line", "siblings")

    def __init__(self, line: str, siblings: set[str]) -> None:
        self.line = line
        self.siblings = siblings


def parents(lines: list[str], row: int, column: int) -> list[Parent]:
    """Enclosing lines, innermost first; ``column`` is the cursor's indentation on a blank line."""
    current = lines[row]
    indent = _indent(current) if current.strip() else column
    chain: list[Parent] = []
    for above in range(row - 1, -1, -1):
        line = lines[above]
        if _meaningful(line) and _indent(line) < indent:
            chain.append(Parent(line, _keys_at(lines, above, indent)))
            indent = _indent(line)
            if indent == 0:
                break
    return chain


def _keys_at(lines: list[str], parent: int, indent: int) -> set[str]:
    """Keys written at ``indent`` under the parent line (up to the next line at the parent's level or less)."""
    keys: set[str] = set()
    parent_indent = _indent(lines[parent])
    for line in lines[parent + 1 :]:
        if not _meaningful(line):
            continue
        if _indent(line) <= parent_indent:
            break
        match = _KEY_LINE.match(line)
        if match is not None and len(match.group(1)) == indent:
            keys.add(match.group(2))
    return keys


def completions(text: str, line: int, character: int, variables: dict[str, Any]) -> list[lsp.CompletionItem]:
    """``character`` counts code points here (the server converts)."""
    lines = text.splitlines() or [""]
    if line >= len(lines):
        lines += [""] * (line - len(lines) + 1)
    before = lines[line][:character]
    tag = _TAG.search(before)
    if tag is not None:
        return _edit_items([f"{name}" for name in v1.modifier_types()], line, character, len(tag.group(1)), lsp.CompletionItemKind.Class)
    inside_eval = _EVAL.search(before)
    if inside_eval is not None:
        word = _WORD.search(inside_eval.group(1))
        items = _edit_items(sorted(variables), line, character, len(word.group(0)) if word else 0, lsp.CompletionItemKind.Variable)
        for variable in items:
            variable.detail = f"= {variables[variable.label]!r}"
        return items
    chain = parents(lines, line, character)
    value = _VALUE.match(before)
    if value is not None:
        key, written = value.group(1), value.group(2)
        prop = _property(chain, key)
        return _edit_items(list(schemas.enum_values(key, prop)), line, character, len(written), lsp.CompletionItemKind.EnumMember)
    if before.strip() and not _WORD.fullmatch(before.strip()):
        return []
    typed = len(before.strip())
    if not chain:
        return []
    parent = chain[0]
    item = _ITEM_TAG.match(parent.line)
    if item is not None:
        name = schemas.tag_name("!" + item.group(2))
        return [] if name is None else _key_items(schemas.v1_schema(name), parent.siblings, line, character, typed)
    parent_key = _KEY_LINE.match(parent.line)
    if parent_key is None:
        return []
    written = parent_key.group(2)
    if written.endswith("modifiers") and "!" not in parent.line:
        taken = parent.siblings
        names = [n for n in schemas.v2_names() if n not in taken]
        return _edit_items(names, line, character, typed, lsp.CompletionItemKind.Class, suffix=":\n")
    grand = _KEY_LINE.match(chain[1].line) if len(chain) > 1 else None
    if written.endswith("Modifier") and grand is not None and grand.group(2).endswith("modifiers"):
        found = schemas.v2_schema(written)
        return [] if found is None else _key_items(found[0], parent.siblings, line, character, typed)
    return []


def _property(chain: list[Parent], key: str) -> dict[str, Any] | None:
    if not chain:
        return None
    item = _ITEM_TAG.match(chain[0].line)
    if item is not None:
        name = schemas.tag_name("!" + item.group(2))
        return schemas.v1_schema(name).get("properties", {}).get(key) if name else None
    match = _KEY_LINE.match(chain[0].line)
    if match is not None and match.group(2).endswith("Modifier"):
        found = schemas.v2_schema(match.group(2))
        prop: dict[str, Any] | None = found[0].get("properties", {}).get(key) if found else None
        return prop
    return None


def _edit_items(
    labels: list[str], line: int, character: int, typed: int, kind: lsp.CompletionItemKind, suffix: str = ""
) -> list[lsp.CompletionItem]:
    edit_range = lsp.Range(lsp.Position(line, character - typed), lsp.Position(line, character))
    return [lsp.CompletionItem(label=label, kind=kind, text_edit=lsp.TextEdit(edit_range, label + suffix)) for label in labels]


def _key_items(schema: dict[str, Any], present: set[str], line: int, character: int, typed: int) -> list[lsp.CompletionItem]:
    edit_range = lsp.Range(lsp.Position(line, character - typed), lsp.Position(line, character))
    items = []
    for key, prop in schema.get("properties", {}).items():
        if key in present:
            continue
        default = schemas.default_text(prop)
        snippet = f"{key}: ${{1:{_escape(default)}}}" if default is not None else f"{key}: $1"
        items.append(
            lsp.CompletionItem(
                label=key,
                kind=lsp.CompletionItemKind.Property,
                detail=schemas.type_text(prop) + (f" = {default}" if default is not None else ""),
                documentation=str(prop.get("description") or prop.get("title") or ""),
                insert_text_format=lsp.InsertTextFormat.Snippet,
                text_edit=lsp.TextEdit(edit_range, snippet),
            )
        )
    return items


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("$", "\\$").replace("}", "\\}")


def text_variables(text: str) -> dict[str, Any]:
    """Top-level ``name: value`` scalars: the recipe's variables when it does not load yet."""
    found: dict[str, Any] = {}
    for line in text.splitlines():
        match = _VARIABLE.match(line)
        if match is not None and "modifiers" not in match.group(1) and match.group(1) not in ("version", "__metadata__"):
            found[match.group(1)] = match.group(2)
    return found
