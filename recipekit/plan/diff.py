"""What changed between two plans, in the recipe's words: ``final_sparsity 0.75 → 0.8 in GMPruningModifier at line 12``.

Used when a run resumes with a plan other than the one its state was saved with (an edited
recipe, other ``--var`` values, another ``steps_per_epoch``). Instructions are paired by the
modifier they come from (type and position in the recipe), so an edit that moves lines still
pairs them. Standard library only.
"""

from __future__ import annotations

import json
from typing import Any

#: Fields the compiler derives from others (steps from epochs): named only when nothing else changed.
DERIVED = frozenset({"step", "updates"})


def _derived(name: str) -> bool:
    return name in DERIVED or name.endswith("_step")


_TOP = ("steps_per_epoch", "max_epochs", "total_steps")


def _show(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, ensure_ascii=False)
    return text if len(text) <= 40 else text[:37] + "..."


def _key(instruction: dict[str, Any]) -> tuple[Any, ...]:
    origin = instruction.get("origin") or {}
    return (origin.get("modifier"), origin.get("index"), instruction.get("op"))


def _where(instruction: dict[str, Any]) -> str:
    origin = instruction.get("origin") or {}
    return f"{origin.get('modifier', instruction.get('op'))} at line {origin.get('line', '?')}"


def plan_changes(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """Each difference between two plan documents (``json.loads`` of ``Plan.to_json()``), one phrase each."""
    changes = [f"{key} {_show(before.get(key))} → {_show(after.get(key))}" for key in _TOP if before.get(key) != after.get(key)]
    old_vars, new_vars = before.get("variables") or {}, after.get("variables") or {}
    for name in sorted(old_vars.keys() | new_vars.keys()):
        if old_vars.get(name) != new_vars.get(name):
            changes.append(f"variable {name} {_show(old_vars.get(name))} → {_show(new_vars.get(name))}")
    old_selectors = {s["id"]: s for s in before.get("selectors") or []}
    new_selectors = {s["id"]: s for s in after.get("selectors") or []}
    olds: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for instruction in before.get("instructions") or []:
        olds.setdefault(_key(instruction), []).append(instruction)
    for instruction in after.get("instructions") or []:
        paired = olds.get(_key(instruction))
        if not paired:
            changes.append(f"{_where(instruction)} is new ({instruction.get('op')})")
            continue
        old = paired.pop(0)
        fields = []
        for field in sorted((old.keys() | instruction.keys()) - {"origin", "op"}):
            was, now = old.get(field), instruction.get(field)
            if field == "selector":  # the recipe's params, not the plan's selector ids
                was = (old_selectors.get(was) or {}).get("patterns", was)
                now = (new_selectors.get(now) or {}).get("patterns", now)
            if was != now:
                fields.append(("params" if field == "selector" else field, was, now))
        chosen = [f for f in fields if not _derived(f[0])] or fields
        changes.extend(f"{name} {_show(was)} → {_show(now)} in {_where(instruction)}" for name, was, now in chosen)
    for left in olds.values():
        changes.extend(f"{_where(instruction)} of the saved plan is gone ({instruction.get('op')})" for instruction in left)
    return changes
