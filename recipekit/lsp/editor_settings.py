"""Settings an editor's generic YAML support needs for recipes (no pygls needed here).

VS Code's YAML extension (yaml-language-server) reports "Unresolved tag" for every
`!GMPruningModifier` unless the tag is listed in ``yaml.customTags``; this list is generated
from the modifier schemas so it never falls behind them.
"""

from __future__ import annotations

from typing import Any

from recipekit import schema


def custom_tags() -> list[str]:
    """Every modifier tag a v1 recipe may use, both spellings, each read as a mapping."""
    names = schema.modifier_types()
    return [f"!{name} mapping" for name in names] + [f"!pytorch.{name} mapping" for name in names]


def vscode_settings() -> dict[str, Any]:
    """The ``settings.json`` entries: the tags, and SparseML's YAML 1.1 (``5e-5`` is a string there)."""
    return {"yaml.customTags": custom_tags(), "yaml.yamlVersion": "1.1"}
