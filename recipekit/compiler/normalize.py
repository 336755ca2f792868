"""The resolved recipe as canonical JSON (``recipekit normalize``)."""

from __future__ import annotations

import json
import math
from typing import Any

from recipekit.ir import Recipe
from recipekit.source import Source, Span


def span_json(source: Source, span: Span) -> dict[str, Any]:
    loc = source.location(span)
    return {"line": loc.line, "column": loc.column, "end_line": loc.end_line, "end_column": loc.end_column}


def json_safe(value: Any) -> Any:
    """JSON-safe values: float keys (sparsity mappings) and non-finite floats become strings."""
    if isinstance(value, dict):
        return {repr(k) if isinstance(k, float) else str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    return value


def normalize(recipe: Recipe) -> dict[str, Any]:
    source = recipe.source
    modifiers = []
    for modifier in recipe.modifiers:
        entry: dict[str, Any] = {"type": modifier.type}
        if modifier.flavour:
            entry["flavour"] = modifier.flavour
        entry.update({name: json_safe(param.value) for name, param in modifier.params.items()})
        entry["span"] = span_json(source, modifier.span)
        modifiers.append(entry)
    variables = {name: json_safe(variable.value) for name, variable in recipe.variables.items()}
    return {"recipe": source.path, "variables": variables, "modifiers": modifiers}


def to_json(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
