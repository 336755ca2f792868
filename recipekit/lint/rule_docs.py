"""Read a rule's docstring: summary, explanation, Bad/Good examples, context lines."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

_FENCE = re.compile(r"^(Bad|Good):\s*\n\s*\n```yaml\n(.*?)```", re.S | re.M)
_CONTEXT = re.compile(r"^(Parameters|Modules|Steps per epoch):\s*(.+)$", re.M)


@dataclass
class RuleDoc:
    summary: str
    body: str
    bad: str
    good: str
    #: Parameters the examples are linted against: (name, shape, module type).
    params: list[dict[str, Any]] | None = None
    steps_per_epoch: float | None = None
    extra: dict[str, str] = field(default_factory=dict)


def parse_rule_doc(doc: str) -> RuleDoc:
    text = doc.strip()
    summary, _, rest = text.partition("\n")
    examples = {kind: body for kind, body in _FENCE.findall(rest)}
    body = rest[: rest.find("Bad:")].strip() if "Bad:" in rest else rest.strip()
    params = None
    steps = None
    modules = None
    for kind, value in _CONTEXT.findall(body):
        if kind == "Parameters":
            params = [_param(item.strip()) for item in re.split(r",\s*(?![^\[]*\])", value)]
        elif kind == "Modules":
            # "features.0 Conv2d, features.1 ReLU": the modules a `recipekit params --model` manifest lists.
            modules = [dict(zip(("name", "type"), item.split(), strict=True)) for item in value.split(",")]
        else:
            steps = float(value)
    if params is not None and modules is not None:
        from recipekit.plan.manifest import Manifest

        params = Manifest(params)
        params.modules = modules
    body = _CONTEXT.sub("", body).strip()
    return RuleDoc(summary.strip(), body, examples.get("Bad", ""), examples.get("Good", ""), params, steps)


def _param(item: str) -> dict[str, Any]:
    # "features.0.weight [8, 8, 3, 3] Conv2d"
    name, _, rest = item.partition(" ")
    shape_text, _, module = rest.rpartition(" ")
    shape = [int(n) for n in re.findall(r"\d+", shape_text)]
    return {"name": name, "shape": shape, "module_type": module}
