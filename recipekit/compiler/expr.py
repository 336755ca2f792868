"""Parse `eval(...)` expressions into a small AST with offsets.

The grammar is expr.lark; lark compiles it into the tables of expr_tables.py
and this module runs them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, Final

from recipekit import limits
from recipekit.compiler.expr_tables import ACCEPT_STATE, IGNORED, KEPT, RULES, START_STATE, STATES, TERMINALS
from recipekit.record import Record

Value = Any  # int | float | bool | str | list[Value]


class Expr(Record):
    """A node of the expression, with its offsets in the expression's text."""

    __slots__ = ("start", "end")

    def __init__(self, start: int, end: int) -> None:
        self.start: Final = start
        self.end: Final = end


class Const(Expr):
    __slots__ = ("value",)

    def __init__(self, start: int, end: int, value: Value) -> None:
        super().__init__(start, end)
        self.value: Final = value


class Name(Expr):
    __slots__ = ("name",)

    def __init__(self, start: int, end: int, name: str) -> None:
        super().__init__(start, end)
        self.name: Final = name


class ListExpr(Expr):
    __slots__ = ("items",)

    def __init__(self, start: int, end: int, items: tuple[Expr, ...]) -> None:
        super().__init__(start, end)
        self.items: Final = items


class Unary(Expr):
    __slots__ = ("op", "operand")

    def __init__(self, start: int, end: int, op: str, operand: Expr) -> None:
        super().__init__(start, end)
        self.op: Final = op
        self.operand: Final = operand


class Binary(Expr):
    __slots__ = ("op", "left", "right", "op_start")

    def __init__(self, start: int, end: int, op: str, left: Expr, right: Expr, op_start: int) -> None:
        super().__init__(start, end)
        self.op: Final = op
        self.left: Final = left
        self.right: Final = right
        #: Offset of the operator itself, where errors of this operation point.
        self.op_start: Final = op_start


class Call(Expr):
    __slots__ = ("function", "args")

    def __init__(self, start: int, end: int, function: str, args: tuple[Expr, ...]) -> None:
        super().__init__(start, end)
        self.function: Final = function
        self.args: Final = args


class ExprError(Exception):
    """A user error inside an expression, with offsets relative to its text."""

    def __init__(self, code: str, message: str, start: int, end: int) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.start = start
        self.end = end


_BINARY_OPS = {"add": "+", "sub": "-", "mul": "*", "div": "/", "floordiv": "//", "mod": "%", "pow": "**"}

#: One alternation of every terminal, tried in the order lark's basic lexer uses.
_TOKEN = re.compile("|".join(f"(?P<{name}>{pattern})" for name, pattern in TERMINALS))


class _Token:
    """A terminal on the parser's stack."""

    __slots__ = ("kind", "text", "start", "end")

    def __init__(self, kind: str, text: str, start: int, end: int) -> None:
        self.kind = kind
        self.text = text
        self.start = start
        self.end = end


class _Items:
    """The items of an argument list (`args`), or a run of them still being collected."""

    __slots__ = ("items",)

    def __init__(self, items: tuple[Expr, ...]) -> None:
        self.items = items


_Value = _Token | Expr | _Items


def parse(text: str) -> Expr:
    """Parse an expression; raise :class:`ExprError` for any user error.

    An LALR(1) driver over the tables lark computed from expr.lark
    (scripts/gen_expr_tables.py): the same language, positions and errors as
    lark's own parser, without lark's 50 ms import and grammar build on the
    cold start of `recipe-lint`.
    """
    if len(text) > limits.MAX_EXPRESSION_CHARS:
        raise ExprError("P123", f"expression is longer than {limits.MAX_EXPRESSION_CHARS} characters", 0, len(text))
    if not text.strip():
        raise ExprError("P120", "empty expression; write a value inside eval(...)", 0, len(text))
    _check_nesting(text)
    return _Parser(text).run()


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        # A malformed number literal is reported only once the whole text parsed, so
        # that a syntax error anywhere wins, as with lark's parse-then-build.
        self.bad_number: ExprError | None = None

    def run(self) -> Expr:
        states: list[int] = [START_STATE]
        values: list[_Value] = []
        # Parallel to values: the value's container span and its tree depth.  As in
        # lark's propagate_positions, a node spans its children's containers, and a
        # child passed through a `?rule` keeps its own span but gets a wider
        # container: `(a + 1) * b` starts at the parenthesis, `a + 1` does not.
        # Depth counts tree nodes as lark's tree has them (tokens are 0).
        spans: list[tuple[int, int]] = []
        depths: list[int] = []
        for token in _tokens(self.text):
            while True:
                action = STATES[states[-1]].get(token.kind)
                if action is None:
                    raise _unexpected(token, self.text)
                if action >= 0:
                    states.append(action)
                    values.append(token)
                    spans.append((token.start, token.end))
                    depths.append(0)
                    break
                origin, size, kind = RULES[~action]
                cut = len(values) - size
                span = (spans[cut][0], spans[-1][1])
                value, depth = self.reduce(kind, values[cut:], span, max(depths[cut:]))
                del values[cut:], spans[cut:], depths[cut:], states[cut + 1 :]
                states.append(STATES[states[-1]][origin])
                values.append(value)
                spans.append(span)
                depths.append(depth)
                if states[-1] == ACCEPT_STATE and token.kind == "$END":
                    if self.bad_number is not None:
                        raise self.bad_number
                    assert isinstance(value, Expr)
                    return value
        raise AssertionError("the parser tables accept only at the end of the input")  # pragma: no cover

    def reduce(self, kind: str, children: list[_Value], span: tuple[int, int], child_depth: int) -> tuple[_Value, int]:
        """The value of one reduction, and its tree depth."""
        kept = [child for child in children if not isinstance(child, _Token) or child.kind in KEPT]
        if kind == "inline" and len(kept) == 1:  # a `?rule` passes its one child through
            return kept[0], child_depth
        if kind == "splice":  # `_rule`s are spliced into their parent and are not tree nodes
            return _Items(_flatten(kept)), child_depth
        depth = 1 + child_depth
        if depth > limits.MAX_EXPRESSION_TREE_DEPTH:
            raise ExprError("P123", "expression is too deeply nested", *span)
        return self.node(kind, children, kept, *span), depth

    def node(self, kind: str, children: list[_Value], kept: list[_Value], start: int, end: int) -> _Value:
        first = kept[0] if kept else None
        if kind == "number":
            assert isinstance(first, _Token)
            try:
                return Const(start, end, _number(first.text, start, end))
            except ExprError as error:
                self.bad_number = self.bad_number or error
                return Const(start, end, 0)
        if kind == "string":
            assert isinstance(first, _Token)
            return Const(start, end, first.text[1:-1])
        if kind == "name":
            assert isinstance(first, _Token)
            return Name(start, end, first.text)
        if kind == "args":
            return _Items(_flatten(kept))
        if kind == "list":
            return ListExpr(start, end, _flatten(kept))
        if kind == "call":
            assert isinstance(first, _Token)
            return Call(start, end, first.text, _flatten(kept[1:]))
        if kind in ("neg", "pos"):
            operand = kept[0]
            assert isinstance(operand, Expr)
            return Unary(start, end, "-" if kind == "neg" else "+", operand)
        left, operator, right = children
        assert isinstance(left, Expr) and isinstance(operator, _Token) and isinstance(right, Expr)
        return Binary(start, end, _BINARY_OPS[kind], left, right, operator.start)


def _tokens(text: str) -> Iterator[_Token]:
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            char = text[position]
            hint = ""
            if char == ".":
                hint = "; attribute access is not part of the expression language"
            elif char in "<>=!":
                hint = "; comparisons are not part of the expression language"
            raise ExprError("P120", f"unexpected character {char!r} in expression{hint}", position, position + 1)
        kind = match.lastgroup
        assert kind is not None
        if kind not in IGNORED:
            yield _Token(kind, match.group(), position, match.end())
        position = match.end()
    yield _Token("$END", "", len(text), len(text))


def _unexpected(token: _Token, text: str) -> ExprError:
    if token.kind == "$END":
        return ExprError("P120", "expression ends too early; is a closing parenthesis or operand missing?", len(text), len(text) + 1)
    return ExprError("P120", f"unexpected {token.text!r} in expression", token.start, token.start + max(1, len(token.text)))


def _flatten(kept: list[_Value]) -> tuple[Expr, ...]:
    items: list[Expr] = []
    for child in kept:
        if isinstance(child, _Items):
            items.extend(child.items)
        elif isinstance(child, Expr):
            items.append(child)
    return tuple(items)


def _check_nesting(text: str) -> None:
    depth = 0
    for index, char in enumerate(text):
        if char in "([":
            depth += 1
            if depth > limits.MAX_EXPRESSION_DEPTH:
                raise ExprError("P123", f"expression nests deeper than {limits.MAX_EXPRESSION_DEPTH} levels", index, index + 1)
        elif char in ")]":
            depth -= 1


def _number(token: str, start: int, end: int) -> int | float:
    digits = token.replace("_", "")
    if any(c in digits for c in ".eE"):
        return float(digits)
    if len(digits) > 1 and digits.startswith("0"):
        raise ExprError("P120", f"leading zeros are not allowed in {token!r}; write {int(digits)}", start, end)
    return int(digits)
