"""Structural checks of a plan document, standard library only.

The runtime refuses a plan that fails these before touching a model. The same
contract is published as ``schema/plan.schema.json``; tests check both agree.
"""

from __future__ import annotations

from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints, is_typeddict

from recipekit.plan.ops import OPS

_NUMBER = (int, float)


def _runtime_types(hint: Any) -> tuple[type, ...]:
    """The JSON types an annotation of ``recipekit.plan.ops`` allows (``float`` takes ints too, as JSON does)."""
    if hint is float:
        return _NUMBER
    if hint in (int, str, bool):
        return (hint,)
    if hint is type(None):
        return (type(None),)
    if is_typeddict(hint):
        return (dict,)
    origin = get_origin(hint)
    if origin is Literal:
        return tuple(dict.fromkeys(type(value) for value in get_args(hint)))
    if origin in (Union, UnionType):
        return tuple(dict.fromkeys(t for arg in get_args(hint) for t in _runtime_types(arg)))
    if origin in (list, dict):
        return (origin,)
    raise TypeError(f"no JSON type for {hint!r}")  # pragma: no cover - a new kind of annotation in ops.py


def _op_fields(op_class: type) -> dict[str, tuple[type, ...]]:
    hints = get_type_hints(op_class)
    optional: frozenset[str] = getattr(op_class, "__optional_keys__", frozenset())
    return {name: _runtime_types(hint) for name, hint in hints.items() if name not in ("op", "step", "origin") and name not in optional}


#: Every instruction's own required fields and their types (None allowed where listed), derived
#: from the op declarations in ``recipekit.plan.ops``.
OP_FIELDS: dict[str, dict[str, tuple[type, ...]]] = {op: _op_fields(op_class) for op, op_class in OPS.items()}
_TOP: dict[str, tuple[type, ...]] = {
    "recipe": (dict,), "steps_per_epoch": _NUMBER, "max_epochs": (int,), "total_steps": (int,),
    "variables": (dict,), "selectors": (list,), "instructions": (list,),
}  # fmt: skip


def _is(value: Any, types: tuple[type, ...]) -> bool:
    return isinstance(value, types) and not (isinstance(value, bool) and bool not in types)


def check_plan_document(document: dict[str, Any]) -> list[str]:
    problems = [f"{key!r} is missing or not {types[0].__name__}" for key, types in _TOP.items() if not _is(document.get(key), types)]
    if problems:
        return problems
    if not (document["steps_per_epoch"] > 0 and document["total_steps"] >= 0):
        problems.append("steps_per_epoch must be positive and total_steps not negative")
    selector_ids = set()
    for selector in document["selectors"]:
        if not (isinstance(selector, dict) and isinstance(selector.get("id"), str) and isinstance(selector.get("patterns"), list)):
            problems.append(f"malformed selector {selector!r:.80}")
            continue
        selector_ids.add(selector["id"])
    previous = -1
    for index, instruction in enumerate(document["instructions"]):
        where = f"instruction {index}"
        if not isinstance(instruction, dict) or instruction.get("op") not in OP_FIELDS:
            problems.append(f"{where}: unknown op {instruction.get('op') if isinstance(instruction, dict) else instruction!r:.40}")
            continue
        step = instruction.get("step")
        if not isinstance(step, int) or isinstance(step, bool) or step < 0:
            problems.append(f"{where}: step must be a non-negative integer")
            continue
        if step < previous:
            problems.append(f"{where}: instructions are not sorted by step")
        previous = step
        if not isinstance(instruction.get("origin"), dict):
            problems.append(f"{where}: origin is missing")
        for name, types in OP_FIELDS[instruction["op"]].items():
            if not _is(instruction.get(name), types):
                problems.append(f"{where} ({instruction['op']}): field {name!r} is missing or of the wrong type")
        if "selector" in instruction and instruction["selector"] not in selector_ids:
            problems.append(f"{where}: unknown selector {instruction['selector']!r}")
    return problems
