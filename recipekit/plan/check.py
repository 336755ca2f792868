"""Structural checks of a plan document, standard library only.

The runtime refuses a plan that fails these before touching a model. The same
contract is published as ``schema/plan.schema.json``; tests check both agree.
"""

from __future__ import annotations

from typing import Any

_NUMBER = (int, float)
#: Every instruction's own fields and their types (None allowed where listed).
OP_FIELDS: dict[str, dict[str, tuple[type, ...]]] = {
    "note": {},
    "set_lr": {"value": _NUMBER, "param_groups": (list, type(None))},
    "set_weight_decay": {"value": _NUMBER, "param_groups": (list, type(None))},
    "lr_function": {
        "last_step": (int,),
        "func": (str,),
        "init_lr": _NUMBER,
        "final_lr": _NUMBER,
        "start_epoch": _NUMBER,
        "end_epoch": _NUMBER,
        "cycle_epochs": _NUMBER,
        "param_groups": (list, type(None)),
    },
    "lr_scheduler": {
        "lr_class": (str,),
        "init_lr": _NUMBER,
        "origin_step": (int,),
        "last_step": (int, type(None)),
        "start_epoch": _NUMBER,
        "end_epoch": _NUMBER,
    },
    "prune": {
        "selector": (str,),
        "init_sparsity": (*_NUMBER, str),
        "final_sparsity": (*_NUMBER, dict),
        "start_epoch": _NUMBER,
        "end_epoch": _NUMBER,
        "inter_func": (str,),
        "mask_type": (str, list),
        "global_sparsity": (bool,),
        "leave_enabled": (bool,),
        "updates": (dict,),
        "end_step": (int, type(None)),
        "score": (dict,),
    },
    "distill": {
        "last_step": (int, type(None)),
        "hardness": _NUMBER,
        "temperature": _NUMBER,
        "distill_output_keys": (list, type(None)),
        "teacher_input_keys": (list, type(None)),
    },
    "hold_mask": {"selector": (str,), "end_step": (int, type(None))},
    "set_trainable": {"selector": (str,), "trainable": (bool,), "restore_step": (int, type(None)), "strict": (bool,)},
    "qat": {"flavour": (str,), "config": (dict,), "observer_step": (int, type(None)), "freeze_bn_step": (int, type(None))},
}
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
