"""Recipe variables: overrides, `eval(...)` evaluation and substitution.

SparseML semantics, made explicit: every top-level key that is not a modifier
list is a variable; a value ``eval(<expr>)`` is computed from other variables
(forward references allowed, cycles reported with their path); inside modifier
lists only ``eval(...)`` strings are substituted — a bare variable name stays a
string, as it did in SparseML.  Overrides replace a variable's raw value before
evaluation, and must name an existing variable.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeGuard

from recipekit.compiler.layout import Layout
from recipekit.compiler.validate import to_python
from recipekit.compiler.yaml_tree import Map, Node, Scalar, Seq
from recipekit.diagnostics import Diagnostic
from recipekit.ir import Variable
from recipekit.source import Source, Span
from recipekit.suggest import did_you_mean

if TYPE_CHECKING:
    from recipekit.compiler.expr import Name

_EVAL_PREFIX = "eval("


def is_eval(node: Node) -> TypeGuard[Scalar]:
    # SparseML's is_eval_string: exact prefix and suffix, no trimming.
    return isinstance(node, Scalar) and isinstance(node.value, str) and node.value.startswith(_EVAL_PREFIX) and node.value.endswith(")")


def expression_span(source: Source, node: Scalar, start: int, end: int) -> Span:
    """Span of ``[start, end)`` inside the expression of an ``eval(...)`` scalar.

    Exact for plain and simply quoted one-line scalars; for escaped, folded or
    block scalars the text no longer maps 1:1 to the file, so fall back to the
    whole scalar.
    """
    raw = source.text[node.span.start : node.span.end]
    if node.style is None and raw == node.text:
        base = node.span.start
    elif node.style in ("'", '"') and raw[1:-1] == node.text:
        base = node.span.start + 1
    else:
        return node.span
    offset = base + len(_EVAL_PREFIX)
    return Span(offset + start, offset + max(end, start + 1))


class _Failed(Exception):
    """A variable whose value could not be computed; already reported."""


class Scope:
    """Variables visible to one part of the recipe (global, or a stage)."""

    __slots__ = ("nodes", "parent", "stage", "values", "failed")

    def __init__(self, nodes: dict[str, tuple[Scalar, Node]], parent: Scope | None = None, stage: str | None = None) -> None:
        self.nodes = nodes
        self.parent = parent
        self.stage = stage
        self.values: dict[str, Any] = {}
        self.failed: set[str] = set()

    def owner(self, name: str) -> Scope | None:
        scope: Scope | None = self
        while scope is not None:
            if name in scope.nodes:
                return scope
            scope = scope.parent
        return None

    def names(self) -> list[str]:
        return list(self.nodes) + (self.parent.names() if self.parent else [])


class Evaluator:
    def __init__(self, source: Source) -> None:
        self.source = source
        self.diagnostics: list[Diagnostic] = []
        self.active: list[tuple[Scope, str]] = []

    def error(self, code: str, span: Span, message: str) -> None:
        self.diagnostics.append(self.source.diag(code, span, message))

    # -- variables ----------------------------------------------------------
    def variable(self, scope: Scope, name: str) -> Any:
        if name in scope.values:
            return scope.values[name]
        if name in scope.failed:
            raise _Failed
        key, node = scope.nodes[name]
        if (scope, name) in self.active:
            cycle = [n for _, n in self.active[self.active.index((scope, name)) :]] + [name]
            self.error("P125", key.span, f"variables form a cycle: {' -> '.join(cycle)}; break it by giving one of them a number")
            scope.failed.add(name)
            raise _Failed
        self.active.append((scope, name))
        try:
            value = self.node_value(node, scope) if is_eval(node) else to_python(node)
        except _Failed:
            scope.failed.add(name)
            raise
        finally:
            self.active.pop()
        scope.values[name] = value
        return value

    def node_value(self, node: Scalar, scope: Scope) -> Any:
        # Imported here: most recipes have no expression, and cold start counts every module.
        from recipekit.compiler.evaluate import evaluate
        from recipekit.compiler.expr import ExprError, parse

        text = str(node.value)[len(_EVAL_PREFIX) : -1]
        try:
            tree = parse(text)
            return evaluate(tree, lambda ref: self.lookup(ref, node, scope))
        except ExprError as error:
            self.error(error.code, expression_span(self.source, node, error.start, error.end), error.message)
            raise _Failed from None

    def lookup(self, ref: Name, node: Scalar, scope: Scope) -> Any:
        from recipekit.compiler.expr import ExprError

        owner = scope.owner(ref.name)
        if owner is None:
            hint = did_you_mean(ref.name, scope.names()) or "; define it at the top level of the recipe"
            raise ExprError("P121", f"undefined variable {ref.name!r}{hint}", ref.start, ref.end)
        # A cycle or failure inside the referenced variable was reported at its own definition.
        return self.variable(owner, ref.name)

    # -- modifier values ----------------------------------------------------
    def substitute(self, node: Node, scope: Scope) -> Node:
        """Return ``node`` with every ``eval(...)`` replaced by its value."""
        if isinstance(node, Scalar):
            if not is_eval(node):
                return node
            try:
                value = self.node_value(node, scope)
            except _Failed:
                return Scalar(node.span, None, None, value=None, text=node.text, style=node.style, kind="failed", expression=node.text)
            return value_node(value, node.span, node.text)
        if isinstance(node, Seq):
            items = [self.substitute(item, scope) for item in node.items]
            if all(a is b for a, b in zip(items, node.items, strict=True)):
                return node
            return Seq(node.span, node.tag, node.tag_span, items=items, alias_of=node.alias_of)
        assert isinstance(node, Map)
        entries = [(key, self.substitute(value, scope)) for key, value in node.entries]
        if all(a[1] is b[1] for a, b in zip(entries, node.entries, strict=True)):
            return node
        return Map(node.span, node.tag, node.tag_span, entries=entries, alias_of=node.alias_of)


def value_node(value: Any, span: Span, expression: str | None = None) -> Node:
    """A node holding a computed value, placed at ``span`` (the eval or the override)."""
    if isinstance(value, list):
        return Seq(span, None, None, items=[value_node(item, span) for item in value], expression=expression)
    if isinstance(value, dict):
        entries = [(value_node(str(k), span), value_node(v, span)) for k, v in value.items()]
        return Map(span, None, None, entries=entries, expression=expression)  # type: ignore[arg-type]
    kind = {bool: "bool", int: "int", float: "float", str: "str", type(None): "null"}.get(type(value), "str")
    text = expression or _text(value)
    return Scalar(span, None, None, value=value, text=text, style=None, kind=kind, expression=expression)


def _text(value: Any) -> str:
    if isinstance(value, float) and math.isfinite(value):
        return repr(value)
    return str(value)


def apply_overrides(layout: Layout, overrides: Mapping[str, Any], source: Source) -> list[Diagnostic]:
    """Replace variables' raw values; an override of an unknown name is an error."""
    diagnostics: list[Diagnostic] = []
    scopes = [layout.variables, *layout.stage_variables.values()]
    for name, value in overrides.items():
        hits = [scope for scope in scopes if name in scope]
        if not hits:
            known = sorted({n for scope in scopes for n in scope})
            hint = did_you_mean(name, known)
            message = f"--var {name}: the recipe defines no variable {name!r}{hint}; SparseML refuses such overrides too"
            diagnostics.append(source.diag("P127", Span(source.yaml_start, source.yaml_start), message))
            continue
        for scope in hits:
            key, node = scope[name]
            scope[name] = (key, value_node(value, node.span))
    return diagnostics


def evaluate_variables(layout: Layout, source: Source, evaluator: Evaluator) -> tuple[Scope, dict[str, Scope], dict[str, Variable]]:
    root = Scope(layout.variables)
    stages = {stage: Scope(nodes, parent=root, stage=stage) for stage, nodes in layout.stage_variables.items()}
    records: dict[str, Variable] = {}
    for scope in [root, *stages.values()]:
        for name, (key, node) in scope.nodes.items():
            try:
                value = evaluator.variable(scope, name)
            except _Failed:
                continue
            qualified = name if scope.stage is None else f"{scope.stage}.{name}"
            expression = node.text if is_eval(node) else None
            records[qualified] = Variable(name, value, node.span, key.span, expression, scope.stage)
    return root, stages, records
