"""Parse `eval(...)` expressions into a small AST with offsets.

lark is imported lazily: most recipes contain no expression at all, and the
cold start of `recipe-lint` should not pay for building a parser it never uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from recipekit import limits

if TYPE_CHECKING:
    from lark import Lark

Value = Any  # int | float | bool | str | list[Value]


@dataclass(frozen=True)
class Expr:
    start: int
    end: int


@dataclass(frozen=True)
class Const(Expr):
    value: Value


@dataclass(frozen=True)
class Name(Expr):
    name: str


@dataclass(frozen=True)
class ListExpr(Expr):
    items: tuple[Expr, ...]


@dataclass(frozen=True)
class Unary(Expr):
    op: str
    operand: Expr


@dataclass(frozen=True)
class Binary(Expr):
    op: str
    left: Expr
    right: Expr
    #: Offset of the operator itself, where errors of this operation point.
    op_start: int


@dataclass(frozen=True)
class Call(Expr):
    function: str
    args: tuple[Expr, ...]


class ExprError(Exception):
    """A user error inside an expression, with offsets relative to its text."""

    def __init__(self, code: str, message: str, start: int, end: int) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.start = start
        self.end = end


_BINARY_OPS = {"add": "+", "sub": "-", "mul": "*", "div": "/", "floordiv": "//", "mod": "%", "pow": "**"}


@lru_cache(maxsize=1)
def _parser() -> Lark:
    from lark import Lark

    grammar = (Path(__file__).parent / "expr.lark").read_text(encoding="utf-8")
    return Lark(grammar, parser="lalr", propagate_positions=True, maybe_placeholders=True)


def parse(text: str) -> Expr:
    """Parse an expression; raise :class:`ExprError` for any user error."""
    from lark import Token, Tree
    from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

    if len(text) > limits.MAX_EXPRESSION_CHARS:
        raise ExprError("P123", f"expression is longer than {limits.MAX_EXPRESSION_CHARS} characters", 0, len(text))
    if not text.strip():
        raise ExprError("P120", "empty expression; write a value inside eval(...)", 0, len(text))
    _check_nesting(text)
    try:
        tree = _parser().parse(text)
    except UnexpectedToken as error:
        if error.token.type == "$END":
            raise ExprError(
                "P120", "expression ends too early; is a closing parenthesis or operand missing?", len(text), len(text) + 1
            ) from None
        start = error.token.start_pos or 0
        raise ExprError("P120", f"unexpected {error.token.value!r} in expression", start, start + max(1, len(error.token.value))) from None
    except UnexpectedCharacters as error:
        pos = error.pos_in_stream or 0
        char = text[pos] if pos < len(text) else ""
        hint = ""
        if char == ".":
            hint = "; attribute access is not part of the expression language"
        elif char in "<>=!":
            hint = "; comparisons are not part of the expression language"
        raise ExprError("P120", f"unexpected character {char!r} in expression{hint}", pos, pos + 1) from None
    except UnexpectedInput as error:  # pragma: no cover - other lark failures
        pos = max(0, getattr(error, "pos_in_stream", 0) or 0)
        raise ExprError("P120", "invalid expression", pos, pos + 1) from None
    return _build(tree, text, Tree, Token)


def _check_nesting(text: str) -> None:
    depth = 0
    for index, char in enumerate(text):
        if char in "([":
            depth += 1
            if depth > limits.MAX_EXPRESSION_DEPTH:
                raise ExprError("P123", f"expression nests deeper than {limits.MAX_EXPRESSION_DEPTH} levels", index, index + 1)
        elif char in ")]":
            depth -= 1


def _build(root: Any, text: str, tree_type: Any, token_type: Any) -> Expr:
    """Turn the lark tree into our AST without recursion (long operator chains)."""
    results: dict[int, Expr] = {}
    depths: dict[int, int] = {}
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if isinstance(node, token_type):
            continue
        if not expanded:
            stack.append((node, True))
            stack.extend((child, False) for child in node.children if isinstance(child, tree_type))
            continue
        children = [c for c in node.children if c is not None]
        built = [results[id(c)] for c in children if isinstance(c, tree_type)]
        depth = 1 + max((depths[id(c)] for c in children if isinstance(c, tree_type)), default=0)
        if depth > limits.MAX_EXPRESSION_TREE_DEPTH:
            raise ExprError("P123", "expression is too deeply nested", node.meta.start_pos, node.meta.end_pos)
        depths[id(node)] = depth
        results[id(node)] = _make(node, children, built, text)
    return results[id(root)]


def _make(node: Any, children: list[Any], built: list[Expr], text: str) -> Expr:
    start, end = node.meta.start_pos, node.meta.end_pos
    kind = node.data
    if kind == "number":
        return Const(start, end, _number(str(children[0]), start, end))
    if kind == "string":
        return Const(start, end, str(children[0])[1:-1])
    if kind == "name":
        return Name(start, end, str(children[0]))
    if kind == "list":
        return ListExpr(start, end, tuple(built[0].items) if built else ())  # type: ignore[attr-defined]
    if kind == "args":
        return ListExpr(start, end, tuple(built))
    if kind == "call":
        args = tuple(built[0].items) if built else ()  # type: ignore[attr-defined]
        return Call(start, end, str(children[0]), args)
    if kind in ("neg", "pos"):
        return Unary(start, end, "-" if kind == "neg" else "+", built[0])
    op = _BINARY_OPS[kind]
    left, right = built
    op_start = text.find(op, left.end)
    return Binary(start, end, op, left, right, op_start)


def _number(token: str, start: int, end: int) -> int | float:
    digits = token.replace("_", "")
    if any(c in digits for c in ".eE"):
        return float(digits)
    if len(digits) > 1 and digits.startswith("0"):
        raise ExprError("P120", f"leading zeros are not allowed in {token!r}; write {int(digits)}", start, end)
    return int(digits)
