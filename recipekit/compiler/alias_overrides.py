"""`--var` overrides that YAML aliases never see (P128).

Before 2021, recipes used anchors as variables: ``num_epochs: &num_epochs 40`` …
``end_epoch: *num_epochs``.  YAML resolves an alias while the file is read, and SparseML applied
``recipe_variables`` after that, so overriding ``num_epochs`` changed the variable and left every
alias at 40.  recipekit keeps that meaning; this module makes it loud: one warning per alias site
the override did not reach, with a safe fix that writes the alias as ``eval(num_epochs)``, which
SparseML evaluated after overrides (and which gives the same value when nothing is overridden).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from recipekit.compiler.layout import Layout
from recipekit.compiler.yaml_tree import Map, Node, Scalar, Seq
from recipekit.diagnostics import Diagnostic
from recipekit.source import Source, Span


class _Overridden:
    """One overridden variable whose value carries an anchor."""

    __slots__ = ("name", "stage", "key", "node", "value")

    def __init__(self, name: str, stage: str | None, key: Scalar, node: Node, value: Any) -> None:
        self.name = name
        self.stage = stage
        self.key = key
        self.node = node
        self.value = value


def unreached_aliases(tree: Node, layout: Layout, overrides: Mapping[str, Any], source: Source) -> list[Diagnostic]:
    """A P128 warning at every alias of an overridden variable's anchored value."""
    if not overrides:
        return []
    scopes: list[tuple[str | None, dict[str, tuple[Scalar, Node]]]] = [(None, layout.variables), *layout.stage_variables.items()]
    targets: dict[Span, _Overridden] = {}
    replaced: list[Span] = []
    for stage, scope in scopes:
        for name, value in overrides.items():
            if name not in scope:
                continue
            key, node = scope[name]
            replaced.append(node.span)
            # A variable written as an alias (`b: *a`) carries no anchor of its own.
            if node.alias_of is None:
                targets[node.span] = _Overridden(name, stage, key, node, value)
    if not targets:
        return []
    stage_spans = _stage_spans(tree, layout)
    diagnostics = []
    for site in _alias_sites(tree):
        target = targets.get(site.alias_of)  # type: ignore[arg-type]
        if target is None or any(_inside(site.span, span) for span in replaced):
            continue  # the override replaced the whole value this alias sits in
        diagnostics.append(_warning(source, site, target, layout, stage_spans))
    return diagnostics


def _warning(source: Source, site: Node, target: _Overridden, layout: Layout, stage_spans: dict[str, Span]) -> Diagnostic:
    written = source.text[site.span.start : site.span.end]
    old = target.node.text if isinstance(target.node, Scalar) else source.text[target.node.span.start : target.node.span.end]
    message = (
        f"--var {target.name}={json.dumps(target.value)} does not reach this alias {written}: YAML aliases are resolved "
        f"when the file is read, before overrides apply (as in SparseML), so this value stays {old}. "
        f"Write eval({target.name}) here to let --var change it (`recipe-lint --var ... --fix` rewrites it)"
    )
    note = source.note(f"variable {target.name!r} and its anchor are defined here", target.key.span)
    fix = None
    if written.startswith("*") and _resolves_to(target, site.span, layout, stage_spans):
        fix = source.fix(f"replace {written} with eval({target.name})", [(site.span, f"eval({target.name})")])
    return source.diag("P128", site.span, message, (note,), fix)


def _resolves_to(target: _Overridden, span: Span, layout: Layout, stage_spans: dict[str, Span]) -> bool:
    """Whether `eval(name)` written at ``span`` would name this very variable (stages shadow globals)."""
    inside = next((stage for stage, stage_span in stage_spans.items() if _inside(span, stage_span)), None)
    if target.stage is not None:
        return inside == target.stage
    return inside is None or target.name not in layout.stage_variables[inside]


def _stage_spans(tree: Node, layout: Layout) -> dict[str, Span]:
    if not isinstance(tree, Map) or not layout.stages:
        return {}
    return {key.text: value.span for key, value in tree.entries if key.text in layout.stage_variables}


def _inside(inner: Span, outer: Span) -> bool:
    return outer.start <= inner.start and inner.end <= outer.end


def _alias_sites(tree: Node) -> Iterator[Node]:
    """Every alias written in the file, once each (an alias's children are its anchor's, walked there)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if node.alias_of is not None:
            yield node
            continue
        if isinstance(node, Seq):
            stack.extend(node.items)
        elif isinstance(node, Map):
            stack.extend(value for _, value in node.entries)
