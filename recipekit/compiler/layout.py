"""Find where a v1 recipe keeps its modifiers, variables and stages.

SparseML's rules (sparseml/optim/modifier.py ``load_framework_list``):
a top-level key whose name *contains* ``modifiers`` holds a modifier list;
every other top-level key is a variable.  If no top-level key contains
``modifiers``, each top-level mapping that has such a key is a *stage* with
its own lists and variables.  A recipe that has both silently loses its
stages in SparseML; we keep that meaning and warn.
"""

from __future__ import annotations

from recipekit.compiler.yaml_tree import Map, Node, Scalar, Seq
from recipekit.diagnostics import Diagnostic
from recipekit.source import Source
from recipekit.suggest import did_you_mean

#: Top-level keys that are neither variables nor modifier lists.
RESERVED_KEYS = ("version", "__metadata__")


class Group:
    """One list of modifiers and the key it sits under."""

    __slots__ = ("key", "items", "stage")

    def __init__(self, key: Scalar | None, items: list[Node], stage: str | None = None) -> None:
        self.key = key
        self.items = items
        self.stage = stage


class Layout:
    """Where a recipe keeps its modifiers, variables and stages."""

    __slots__ = ("groups", "variables", "stage_variables", "stages", "v2")

    def __init__(self) -> None:
        self.groups: list[Group] = []
        #: Global variables, by name: (key node, value node).
        self.variables: dict[str, tuple[Scalar, Node]] = {}
        #: Stage name → that stage's own variables.
        self.stage_variables: dict[str, dict[str, tuple[Scalar, Node]]] = {}
        self.stages: list[str] = []
        #: True for llm-compressor style recipes, which we do not check yet.
        self.v2 = False


def _is_group_key(key: Scalar) -> bool:
    return isinstance(key.value, str) and "modifiers" in key.value


def _has_modifier_items(node: Node) -> bool:
    return isinstance(node, Seq) and any(item.tag is not None and item.tag.startswith("!") for item in node.items)


def find_layout(root: Node, source: Source) -> tuple[Layout, list[Diagnostic]]:
    layout = Layout()
    diagnostics: list[Diagnostic] = []
    if isinstance(root, Seq):
        layout.groups.append(Group(None, root.items))
        return layout, diagnostics
    if not isinstance(root, Map):
        message = "a recipe must be a mapping with a `modifiers:` list, not a single value"
        return layout, [source.diag("S200", root.span, message)]
    if root.tag is not None:
        layout.groups.append(Group(None, [root]))
        return layout, diagnostics
    if any(_is_group_key(key) for key, _ in root.entries):
        _flat(root, source, layout, diagnostics)
    else:
        _staged(root, source, layout, diagnostics)
    # A misplaced list (S209, S214) already says precisely why nothing was found.
    if not layout.groups and not layout.v2 and not diagnostics:
        diagnostics.append(_no_modifiers(root, source))
    return layout, diagnostics


def _collect(
    container: Map, source: Source, layout: Layout, stage: str | None, diagnostics: list[Diagnostic]
) -> dict[str, tuple[Scalar, Node]]:
    variables: dict[str, tuple[Scalar, Node]] = {}
    for key, value in container.entries:
        name = key.value if isinstance(key.value, str) else key.text
        if _is_group_key(key):
            if isinstance(value, Seq):
                layout.groups.append(Group(key, value.items, stage))
            elif isinstance(value, Map) and stage is not None and not value.tag:
                layout.v2 = True
            elif value.tag is not None:
                message = f"a modifier directly under {name!r} cannot be loaded by SparseML; write it as a list item: `- {value.tag}`"
                diagnostics.append(source.diag("S214", value.tag_span or value.span, message))
            continue
        if _has_modifier_items(value):
            suggestion = "modifiers" if did_you_mean(name, ["modifiers"]) else name + "_modifiers"
            message = (
                f"modifiers are listed under {name!r}, whose name does not contain 'modifiers' (lower case); "
                f"SparseML refuses this recipe. Rename the key, e.g. to {suggestion!r}"
            )
            diagnostics.append(source.diag("S209", key.span, message))
            continue
        if name in RESERVED_KEYS:
            continue
        variables[name] = (key, value)
    return variables


def _flat(root: Map, source: Source, layout: Layout, diagnostics: list[Diagnostic]) -> None:
    for key, value in root.entries:
        if not _is_group_key(key) and isinstance(value, Map) and any(_is_group_key(k) for k, _ in value.entries):
            message = (
                f"stage {key.text!r} is ignored: SparseML drops every stage of a recipe that also has top-level "
                "modifier lists. Move its modifiers to a top-level list, or make every list a stage"
            )
            diagnostics.append(source.diag("S211", key.span, message))
    stageless = Map(root.span, None, None, entries=[(k, v) for k, v in root.entries if not _is_stage(k, v)])
    layout.variables = _collect(stageless, source, layout, None, diagnostics)


def _is_stage(key: Scalar, value: Node) -> bool:
    return not _is_group_key(key) and isinstance(value, Map) and any(_is_group_key(k) for k, _ in value.entries)


def _staged(root: Map, source: Source, layout: Layout, diagnostics: list[Diagnostic]) -> None:
    plain: list[tuple[Scalar, Node]] = []
    for key, value in root.entries:
        if _is_stage(key, value):
            assert isinstance(value, Map)
            stage = key.text
            layout.stages.append(stage)
            layout.stage_variables[stage] = _collect(value, source, layout, stage, diagnostics)
        else:
            plain.append((key, value))
    layout.variables = _collect(Map(root.span, None, None, entries=plain), source, layout, None, diagnostics)
    if layout.v2:
        message = (
            "this is an llm-compressor (v2) recipe: modifiers are a mapping inside a stage. recipekit checks "
            "SparseML v1 recipes (`- !Modifier` lists); nothing in this file was checked"
        )
        diagnostics.append(source.diag("S212", root.entries[0][0].span, message))


def _no_modifiers(root: Map, source: Source) -> Diagnostic:
    keys = [key.text for key, _ in root.entries]
    for key, value in root.entries:
        if (isinstance(value, Seq) and key.text.lower() != key.text) or "modif" in key.text.lower():
            hint = did_you_mean(key.text, ["modifiers"]) or "; SparseML only reads keys whose name contains 'modifiers' (lower case)"
            message = f"no modifier list found: {key.text!r} does not contain 'modifiers'{hint}"
            return source.diag("S200", key.span, message)
    message = "no modifier list found; list modifiers under a top-level key whose name contains 'modifiers'"
    if keys:
        message += f" (top-level keys: {', '.join(keys[:6])})"
    return source.diag("S200", root.span if not root.entries else root.entries[0][0].span, message)
