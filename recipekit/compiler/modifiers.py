"""Modifier list items → typed :class:`~recipekit.ir.Modifier` objects.

Resolves each item's tag to a schema (``!GMPruningModifier``,
``!pytorch.GMPruningModifier``; legacy names reported as renamed), picks the
QuantizationModifier flavour as SparseML did, validates every parameter, and
fills in defaults and SparseML's forced values.
"""

from __future__ import annotations

import copy
from typing import Any

from recipekit import schema as schemas
from recipekit.compiler.effective import apply_quirks
from recipekit.compiler.layout import Group
from recipekit.compiler.validate import Validator
from recipekit.compiler.variables import Evaluator, Scope
from recipekit.compiler.yaml_tree import REJECTED_TAG, Map, Node, Scalar
from recipekit.diagnostics import Diagnostic, Fix
from recipekit.ir import Modifier, Param
from recipekit.source import Source, Span
from recipekit.suggest import did_you_mean

#: Keys SparseML deletes before constructing a modifier, kept for backwards compatibility.
STRIPPED_KEYS = ("log_types",)
_FRAMEWORK_PREFIX = "pytorch."


def modifier_type(node: Node, source: Source) -> tuple[str | None, list[Diagnostic]]:
    """The modifier type a tagged item names, or a diagnostic saying why not."""
    tag = node.tag
    span = node.tag_span or node.span
    if tag == REJECTED_TAG:
        return None, []
    if tag is None or not tag.startswith("!"):
        message = "this list item is not a modifier; start it with a modifier tag such as `- !GMPruningModifier`"
        return None, [source.diag("S201", node.span, message)]
    name = tag[1:].removeprefix(_FRAMEWORK_PREFIX)
    if name in schemas.RENAMED_MODIFIERS:
        new = schemas.RENAMED_MODIFIERS[name]
        message = f"{name} was renamed {new}; SparseML 1.8 cannot load the old name. Replace the tag with !{new}"
        return None, [source.diag("S202", span, message, fix=_rename_fix(node, source, name, new))]
    if name not in schemas.modifier_types():
        if "." in name:
            message = f"unknown modifier {tag}: only PyTorch modifiers (`!Name` or `!pytorch.Name`) exist in v1 recipes"
        else:
            message = f"unknown modifier {tag}{did_you_mean(name, schemas.modifier_types())}"
        return None, [source.diag("S201", span, message)]
    return name, []


def _rename_fix(node: Node, source: Source, name: str, new: str) -> Fix | None:
    """Rewrite the tag when SparseML's rename was mechanical: every parameter kept its name."""
    span = node.tag_span
    if span is None or not source.text[span.start : span.end].endswith(name):
        return None  # a verbatim tag (`!<...>`) or one written with a %TAG handle
    accepted = schemas.load_schema(new)["properties"]
    keys = [key.value for key, _ in node.entries] if isinstance(node, Map) else []
    if any(key not in accepted and key not in STRIPPED_KEYS for key in keys):
        return None  # a parameter the new modifier lacks: renaming alone would not load either
    return source.fix(f"rename !{name} to !{new}", [(Span(span.end - len(name), span.end), new)])


def build_modifiers(
    groups: list[Group], root: Scope, stages: dict[str, Scope], evaluator: Evaluator, *, lenient: bool = False
) -> tuple[list[Modifier], list[Diagnostic]]:
    """The modifiers of every group, with their diagnostics.

    ``lenient`` (for `recipe-lint`) keeps a modifier whose parameter failed validation, with that
    parameter's default in its place (the error is reported), so the lint rules still see the
    modifier and the rest of the recipe: one run reports everything. A modifier missing a required
    parameter is left out either way.
    """
    source = evaluator.source
    modifiers: list[Modifier] = []
    diagnostics: list[Diagnostic] = []
    index = 0
    for group in groups:
        scope = stages.get(group.stage, root) if group.stage else root
        group_name = group.key.text if group.key is not None else ""
        for item in group.items:
            name, problems = modifier_type(item, source)
            diagnostics.extend(problems)
            if name is None:
                continue
            built, problems, complete = _build_one(name, item, scope, evaluator, group=group_name, stage=group.stage, index=index)
            diagnostics.extend(problems)
            if built is not None and (complete or lenient):
                modifiers.append(built)
            index += 1
    return modifiers, diagnostics


def _entries(item: Node, source: Source, name: str) -> tuple[list[tuple[Scalar, Node]] | None, list[Diagnostic]]:
    if isinstance(item, Map):
        return item.entries, []
    if isinstance(item, Scalar) and item.value in (None, ""):
        return [], []
    message = f"the parameters of !{name} must be a mapping of `key: value` lines"
    return None, [source.diag("S213", item.span, message)]


def _build_one(
    name: str, item: Node, scope: Scope, evaluator: Evaluator, *, group: str, stage: str | None, index: int
) -> tuple[Modifier | None, list[Diagnostic], bool]:
    """The modifier, its diagnostics, and whether every parameter validated (else the failed ones hold their defaults)."""
    source = evaluator.source
    entries, diagnostics = _entries(item, source, name)
    if entries is None:
        return None, diagnostics, False
    stripped = tuple(key.text for key, _ in entries if key.value in STRIPPED_KEYS)
    entries = [(key, value) for key, value in entries if key.value not in STRIPPED_KEYS]
    schema_name, problems = _flavour(name, entries, source)
    diagnostics.extend(problems)
    if problems:
        # The mixed keys were just reported; do not report them again as unknown.
        info = schemas.load_schema(name)["x-sparseml"]
        entries = [
            (key, value)
            for key, value in entries
            if key.value not in info["new_only"] + info["legacy_only"] or key.value in schemas.load_schema(schema_name)["properties"]
        ]
    schema = schemas.load_schema(schema_name)
    properties: dict[str, Any] = schema["properties"]
    given: dict[str, tuple[Scalar, Node]] = {}
    for key, value in entries:
        key_name = key.value if isinstance(key.value, str) else key.text
        if key_name not in properties:
            message = f"unknown parameter {key_name!r} for {name}{did_you_mean(key_name, properties)}"
            diagnostics.append(source.diag("S203", key.span, message))
            continue
        given[key_name] = (key, value)
    params: dict[str, Param] = {}
    failed = missing = False
    required = schema.get("required", [])
    for field, field_schema in properties.items():
        default = field_schema.get("x-forced", copy.deepcopy(field_schema.get("default")))
        if field not in given:
            if field in required:
                message = f"{name} needs {field!r}: {field_schema.get('description', '')}".rstrip(": ")
                diagnostics.append(source.diag("S204", item.tag_span or item.span, message))
                failed = missing = True
                continue
            params[field] = Param(field, default)
            continue
        key, raw = given[field]
        node = evaluator.substitute(raw, scope)
        if isinstance(node, Scalar) and node.kind == "failed":
            failed = True
            missing = missing or field in required
            params[field] = Param(field, default)  # kept only for a lenient build (the error is reported)
            continue
        outcome = Validator(source, field, scope.names()).validate(node, field_schema)
        diagnostics.extend(outcome.diagnostics)
        if not outcome.ok:
            failed = True
            missing = missing or field in required
            params[field] = Param(field, default)
            continue
        if "x-forced" in field_schema:
            forced = field_schema["x-forced"]
            params[field] = Param(
                field, forced, node.span, key.span, outcome.coerced_from, node.expression, outcome.value, ignored=outcome.value != forced
            )
            continue
        params[field] = Param(field, outcome.value, node.span, key.span, outcome.coerced_from, node.expression)
    if missing:
        return None, diagnostics, False
    flavour = "legacy" if schema_name == schemas.LEGACY_QUANTIZATION else None
    modifier = Modifier(name, index, item.tag_span or item.span, group, apply_quirks(name, flavour, params), stage, flavour, stripped)
    return modifier, diagnostics, not failed


def _flavour(name: str, entries: list[tuple[Scalar, Node]], source: Source) -> tuple[str, list[Diagnostic]]:
    """SparseML constructs the legacy QuantizationModifier when any legacy-only key is present."""
    if name != "QuantizationModifier":
        return name, []
    info = schemas.load_schema(name)["x-sparseml"]
    legacy = [key for key, _ in entries if key.value in info["legacy_only"]]
    new = [key for key, _ in entries if key.value in info["new_only"]]
    if legacy and new:
        note = source.note(f"legacy-only key {legacy[0].text!r} is here", legacy[0].span)
        message = (
            f"QuantizationModifier mixes the new key {new[0].text!r} with legacy-only keys "
            f"({', '.join(k.text for k in legacy)}); SparseML rejects this. Use one flavour"
        )
        return schemas.LEGACY_QUANTIZATION, [source.diag("S210", new[0].span, message, (note,))]
    return (schemas.LEGACY_QUANTIZATION if legacy else name), []
