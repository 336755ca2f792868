"""JSON Schemas of the SparseML modifiers, shipped as package data.

One file per YAML-registered SparseML 1.8 PyTorch modifier under
``modifiers/``, plus ``QuantizationModifier-legacy.json`` for the legacy
flavour SparseML selected when a legacy-only key (``submodules`` …) is present.
Fields use standard draft 2020-12 keywords; SparseML's own coercions are
annotations prefixed ``x-`` (see docs/recipe-format.md).
"""

from __future__ import annotations

import json
import os
from functools import cache, lru_cache
from typing import Any

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
LEGACY_QUANTIZATION = "QuantizationModifier-legacy"
#: Package data beside this module (read as files: importlib.resources would import zipfile on
#: every cold `recipe-lint`, and recipekit is never run from a zip).
#: A str, not a pathlib.Path: pathlib costs ~2 ms of a cold start.
SCHEMA_DIR = os.path.join(os.path.dirname(__file__), "modifiers")

#: Names SparseML used before 2021 and can no longer load, and their successors.
RENAMED_MODIFIERS = {
    "GradualKSModifier": "GMPruningModifier",
    "ConstantKSModifier": "ConstantPruningModifier",
}


@lru_cache(maxsize=1)
def schema_names() -> tuple[str, ...]:
    """Every schema file's name: the 26 modifier types plus the legacy flavour."""
    names = (entry.removesuffix(".json") for entry in os.listdir(SCHEMA_DIR) if entry.endswith(".json"))
    return tuple(sorted(names))


def modifier_types() -> tuple[str, ...]:
    """The modifier tags a recipe may use."""
    return tuple(name for name in schema_names() if name != LEGACY_QUANTIZATION)


@cache
def load_schema(name: str) -> dict[str, Any]:
    with open(os.path.join(SCHEMA_DIR, f"{name}.json"), encoding="utf-8") as handle:
        text = handle.read()
    schema: dict[str, Any] = json.loads(text)
    return schema


def bundle() -> dict[str, Any]:
    """All schemas as one draft 2020-12 document (each under ``$defs``)."""
    return {
        "$schema": SCHEMA_DIALECT,
        "$id": "https://recipekit.invalid/schema/modifiers.json",
        "title": "recipekit modifier schemas",
        "description": "The parameters of every SparseML 1.8 PyTorch modifier a v1 recipe may use.",
        "$defs": {name: _without_meta(load_schema(name)) for name in schema_names()},
    }


def _without_meta(schema: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in schema.items() if key not in ("$schema", "$id")}
