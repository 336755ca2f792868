"""What the modifier schemas say, for hover and completion (read once, cached by the loaders)."""

from __future__ import annotations

import json
from typing import Any

from recipekit import schema as v1
from recipekit.compiler import refusals

_PREFIX = "pytorch."
#: Values a key accepts that its schema cannot enumerate (SparseML parses them when training starts).
EXTRA_VALUES = {
    "mask_type": (*refusals.KNOWN_MASKS, "2:4", "4:8", "channel", "filter"),
}


def tag_name(tag: str | None) -> str | None:
    """``!pytorch.GMPruningModifier`` → ``GMPruningModifier``; None for anything not a v1 modifier tag."""
    if tag is None or not tag.startswith("!"):
        return None
    name = tag[1:].removeprefix(_PREFIX)
    return name if name in v1.modifier_types() else None  # a renamed one (S202) is not its successor


def v1_schema(name: str) -> dict[str, Any]:
    return v1.load_schema(name)


def v2_names() -> tuple[str, ...]:
    from recipekit.schema.dialects import DIALECTS, modifier_names

    return tuple(sorted({name for dialect in DIALECTS for name in modifier_names(dialect)}))


def v2_schema(name: str) -> tuple[dict[str, Any], str] | None:
    """A v2 modifier's schema in the first dialect that has it, and that dialect's label."""
    from recipekit.schema.dialects import DIALECTS, label, load_dialect

    for dialect in DIALECTS:
        found = load_dialect(dialect)["modifiers"].get(name)
        if found is not None:
            return found, label(dialect)
    return None


def v2_presets() -> tuple[str, ...]:
    from recipekit.schema.dialects import DIALECTS, presets

    return tuple(sorted({p for dialect in DIALECTS for p in presets(dialect)}))


def type_text(prop: dict[str, Any]) -> str:
    """A property's accepted values in a few words: ``number``, ``"linear" | "cubic"``, ``number | string``."""
    if "const" in prop:
        return json.dumps(prop["const"])
    if "enum" in prop:
        return " | ".join(json.dumps(v) for v in prop["enum"])
    if "anyOf" in prop:
        return " | ".join(dict.fromkeys(type_text(option) for option in prop["anyOf"]))
    if "$ref" in prop:
        return str(prop["$ref"]).rpartition("/")[2]
    kind = prop.get("type", "any")
    if kind == "array" and isinstance(prop.get("items"), dict):
        return f"list of {type_text(prop['items'])}"
    return " | ".join(kind) if isinstance(kind, list) else str(kind)


def enum_values(key: str, prop: dict[str, Any] | None) -> tuple[str, ...]:
    """The values completion offers for ``key``: the schema's enumeration, plus what SparseML parses."""
    found: list[Any] = []
    stack = [prop] if prop else []
    while stack:
        current = stack.pop(0)
        found.extend(current.get("enum", ()))
        if "const" in current and isinstance(current["const"], str):
            found.append(current["const"])
        stack.extend(option for option in current.get("anyOf", ()) if isinstance(option, dict))
    found.extend(EXTRA_VALUES.get(key, ()))
    if key == "scheme":
        found.extend(v2_presets())
    return tuple(dict.fromkeys(str(v) for v in found if isinstance(v, str)))


def default_text(prop: dict[str, Any]) -> str | None:
    """The default, as YAML would write it; None when the schema gives none."""
    if "default" not in prop:
        return None
    value = prop["default"]
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value) if not isinstance(value, str) else value


def modifier_doc(name: str, schema: dict[str, Any], origin: str) -> str:
    """Markdown: what the modifier does and its parameters with types and defaults."""
    lines = [
        f"**{name}** ({origin})",
        "",
        str(schema.get("description", "")).strip(),
        "",
        "| parameter | type | default |",
        "|---|---|---|",
    ]
    required = set(schema.get("required", ()))
    for key, prop in schema.get("properties", {}).items():
        default = default_text(prop)
        shown = "*required*" if key in required else f"`{default}`" if default is not None else ""
        kind = type_text(prop).replace("|", "\\|")  # a bare | would end the table cell
        lines.append(f"| `{key}` | {kind} | {shown} |")
    return "\n".join(lines)
