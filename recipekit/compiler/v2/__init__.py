"""The v2 (stage-format) front-end: llm-compressor and SparseML 1.7+ recipes.

tree → :func:`~recipekit.compiler.v2.structure.read_structure` (stages,
groups, modifiers, as the libraries read them) →
:func:`~recipekit.compiler.v2.check.check_modifiers` (each modifier against
both libraries' schemas; the dialect that accepts the recipe is reported).
Shape problems the libraries skip silently are lint rules
(``lint_rules/v2_*.py``), which read the same structure through
:func:`read_v2`.  recipekit lints v2 recipes; it does not compile them (their
one-shot algorithms are out of the runtime's scope, see docs/v2.md).

A face (PEP 562): a v1 recipe only needs ``detect.py``, which ``compiler/__init__.py``
imports directly, so the v2 front-end is imported only when a v2 recipe is read
(`recipe-lint`'s cold start, docs/architecture.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from recipekit.compiler.v2.detect import NEITHER, V1, V2, detect_format
    from recipekit.compiler.v2.front import load_embedded, load_v2, read_v2, v2_views
    from recipekit.compiler.v2.model import V2Modifier, V2Recipe

__all__ = ["NEITHER", "V1", "V2", "V2Modifier", "V2Recipe", "detect_format", "load_embedded", "load_v2", "read_v2", "v2_views"]
_HOME = {"NEITHER": "detect", "V1": "detect", "V2": "detect", "detect_format": "detect", "V2Modifier": "model", "V2Recipe": "model"}


def __getattr__(name: str) -> Any:
    if name in __all__:
        import importlib

        return getattr(importlib.import_module(f"recipekit.compiler.v2.{_HOME.get(name, 'front')}"), name)
    raise AttributeError(f"module 'recipekit.compiler.v2' has no attribute {name!r}")
