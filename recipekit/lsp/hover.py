"""Hover: a modifier's documentation, a key's type, default and effective value, an epoch's step,
and the explanation of a rule whose diagnostic is under the cursor."""

from __future__ import annotations

import inspect
import json
from typing import Any

from recipekit.ir import Modifier, Recipe
from recipekit.lsp import schemas
from recipekit.lsp.tree import Spot, locate, parse
from recipekit.source import Source

#: Keys whose values are epochs: hover says the optimizer step each falls on.
EPOCH_KEYS = ("start_epoch", "end_epoch", "init_epoch", "final_epoch")


def hover_markdown(
    source: Source, offset: int, recipe: Recipe | None, steps_per_epoch: float | None, diagnostic_codes: list[str]
) -> str | None:
    parts: list[str] = []
    tree = parse(source)
    if tree is not None:
        spot = locate(tree, offset)
        found = _tag_doc(spot) or _v2_modifier_doc(spot) or _key_doc(spot, recipe, steps_per_epoch) or _variable_doc(spot, recipe)
        if found:
            parts.append(found)
    parts.extend(rule_explanation(code) for code in dict.fromkeys(diagnostic_codes))
    return "\n\n---\n\n".join(parts) if parts else None


def _tag_doc(spot: Spot) -> str | None:
    if spot.tag_of is None:
        return None
    name = schemas.tag_name(spot.tag_of.tag)
    assert name is not None
    return schemas.modifier_doc(name, schemas.v1_schema(name), "SparseML 1.8")


def _v2_modifier_doc(spot: Spot) -> str | None:
    key = spot.key
    if spot.group_key is None or spot.v2_modifier is not None or key is None or not isinstance(key.value, str):
        return None
    found = schemas.v2_schema(key.value)
    return None if found is None else schemas.modifier_doc(key.value, found[0], found[1])


def _key_doc(spot: Spot, recipe: Recipe | None, steps_per_epoch: float | None) -> str | None:
    key, modifier = spot.key, spot.modifier
    if key is None or modifier is None or not isinstance(key.value, str):
        return None
    entries = getattr(modifier, "entries", [])
    if not any(k is key for k, _ in entries):
        return None
    name = key.value
    if spot.v2_modifier is not None:
        found = schemas.v2_schema(str(spot.v2_modifier.value))
        prop = found[0].get("properties", {}).get(name) if found else None
        owner = str(spot.v2_modifier.value)
    else:
        owner = schemas.tag_name(modifier.tag) or ""
        prop = schemas.v1_schema(owner).get("properties", {}).get(name)
    if prop is None:
        return f"**{name}**: not a parameter of {owner}"
    lines = [f"**{name}** ({owner}): {schemas.type_text(prop)}", ""]
    description = prop.get("description") or prop.get("title")
    if description:
        lines += [str(description), ""]
    default = schemas.default_text(prop)
    if default is not None:
        lines.append(f"- default: `{default}`")
    built = _modifier_of(recipe, modifier) if spot.v2_modifier is None else None
    if built is not None and name in built.params:
        param = built.params[name]
        lines.append(f"- effective value (what SparseML uses): `{_show(param.value)}`")
        if param.expression is not None:
            lines.append(f"- computed from `{param.expression}`")
        if param.coerced_from is not None:
            lines.append(f"- written `{param.coerced_from}`, which SparseML's YAML 1.1 loader reads as a string and converts")
        if param.ignored:
            lines.append(f"- SparseML ignores the value given here (`{_show(param.ignored_value)}`)")
        if name in EPOCH_KEYS:
            lines.append(epoch_step(param.value, steps_per_epoch))
        elif name == "update_frequency" and isinstance(param.value, (int, float)) and steps_per_epoch and param.value > 0:
            lines.append(
                f"- {_show(param.value)} epochs = {param.value * steps_per_epoch:g} optimizer steps at steps_per_epoch={steps_per_epoch:g}"
            )
    elif built is None and spot.v2_modifier is None:
        lines.append("- effective value: not known while this modifier has errors")
    return "\n".join(lines)


def _variable_doc(spot: Spot, recipe: Recipe | None) -> str | None:
    """A recipe variable's key: its value after ``eval()`` and ``--var``-free evaluation."""
    key = spot.key
    if recipe is None or key is None or not isinstance(key.value, str):
        return None
    variable = recipe.variables.get(key.value)
    if variable is None or variable.key_span != key.span:
        return None
    lines = [f"**{variable.name}** (recipe variable)", "", f"- value: `{_show(variable.value)}`"]
    if variable.expression is not None:
        lines.append(f"- computed from `{variable.expression}`")
    return "\n".join(lines)


def epoch_step(epoch: Any, steps_per_epoch: float | None) -> str:
    """The optimizer step SparseML's manager reaches ``epoch`` at (plan/schedule.py's closed form)."""
    if not isinstance(epoch, (int, float)) or isinstance(epoch, bool):
        return "- step: not a number"
    if epoch == -1:
        return "- `-1`: the first training step for a start, never for an end"
    if steps_per_epoch is None:
        return "- step: set `steps-per-epoch` in `[tool.recipe-lint]` to see the optimizer step"
    from recipekit.plan.schedule import first_step_at

    return f"- epoch {epoch:g} = optimizer step {first_step_at(float(epoch), steps_per_epoch)} at steps_per_epoch={steps_per_epoch:g}"


def _modifier_of(recipe: Recipe | None, node: Any) -> Modifier | None:
    if recipe is None:
        return None
    span = node.tag_span or node.span
    return next((m for m in recipe.modifiers if m.span == span), None)


def _show(value: Any) -> str:
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)


def rule_explanation(code: str) -> str:
    """What `recipekit rule CODE` prints: a rule's docstring, or a code's summary."""
    from recipekit.lint.rule_docs import parse_rule_doc
    from recipekit.lint_rules import all_rules, codes

    rules = all_rules()
    if code in rules:
        rule = rules[code]
        doc = parse_rule_doc(inspect.cleandoc(rule.__doc__ or ""))
        return f"**{code} {rule.NAME}** ({rule.SEVERITY.value}): {doc.summary}\n\n{doc.body}"
    info = codes().get(code)
    return f"**{code} {info.name}** ({info.severity.value}): {info.summary}" if info else f"**{code}**"
