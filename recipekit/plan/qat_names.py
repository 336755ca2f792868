"""A QuantizationModifier's ``scheme_overrides`` and ``ignore`` entries that name nothing in the model.

SparseML 1.8 (``quantization/quantize.py: _validate_set_module_schemes``, run when QAT starts
while ``strict`` is true, the default) refused such an entry with ``ignore contains submodule
names or module types that do not match to any submodules in the model``. An entry matches a
module when it is a plain string prefix of the module's name (``module.`` stripped) or equals its
class name (``__class__.__name__``, no subclasses). One predicate, used by recipe-lint (with a
manifest from ``recipekit params --model``, which lists the modules) and by ``attach``.
Standard library only.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

#: The keys SparseML validated, in its order.
KEYS = ("scheme_overrides", "ignore")


def _name(name: str) -> str:
    return name[len("module.") :] if name.startswith("module.") else name


def unmatched(entries: Iterable[str], modules: Sequence[tuple[str, str]]) -> list[str]:
    """The entries that match no ``(name, class name)`` of ``modules``, as SparseML's check found them."""
    return [entry for entry in entries if not any(_name(name).startswith(entry) or kind == entry for name, kind in modules)]


def hint(entry: str, modules: Sequence[tuple[str, str]]) -> str:
    """``"; did you mean 'x'?"`` with the closest module name or class name, or nothing."""
    from recipekit.suggest import did_you_mean  # a misspelled entry only

    candidates = {kind for _, kind in modules} | {_name(name) for name, _ in modules if name}
    return did_you_mean(entry, sorted(candidates))


def message(key: str, entry: str, modules: Sequence[tuple[str, str]]) -> str:
    return (
        f"{key} entry {entry!r} matches no module name (as a prefix) or module type of the model{hint(entry, modules)}; "
        f"SparseML refused it when QAT started ({key} contains submodule names or module types that do not match)"
    )


def unmatched_in_config(config: dict[str, Any], modules: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """``(key, entry)`` for each entry of a QuantizationModifier's effective config that SparseML refused (strict only)."""
    if not config.get("strict", True):
        return []
    found: list[tuple[str, str]] = []
    for key in KEYS:
        value = config.get(key) or []
        entries = list(value) if isinstance(value, (list, dict)) else []
        found.extend((key, entry) for entry in unmatched([e for e in entries if isinstance(e, str)], modules))
    return found
