"""`eval(...)`: the grammar, the evaluator, its limits and error columns in the file."""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recipekit.compiler import expr as expr_module
from recipekit.compiler.evaluate import evaluate
from recipekit.compiler.expr import Binary, Call, Const, Expr, ExprError, ListExpr, Name, Unary, parse
from tests.helpers import found, ok

ENV = {"a": 2, "b": 0.5, "flag": True, "mask": [1, 4], "s": "ab"}


def run(text: str) -> object:
    def lookup(name: Name) -> object:
        if name.name not in ENV:
            raise ExprError("P121", "undefined", name.start, name.end)
        return ENV[name.name]

    return evaluate(parse(text), lookup)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1 + 2 * 3", 7),
        ("10 / 2", 5.0),  # true division gives a float, as in SparseML
        ("7 // 2", 3),
        ("7 % 4", 3),
        ("2 ** -1", 0.5),
        ("-a ** 2", -4),  # ** binds tighter than unary minus
        ("-(a + 1)", -3),
        ("(a + 1) * b", 1.5),
        ("flag + 1", 2),  # booleans count as numbers, as in SparseML
        ("min(3, a, 5)", 2),
        ("max([1, 9, 4])", 9),
        ("abs(-3)", 3),
        ("round(2.5)", 2),  # round half to even
        ("round(0.12345, 2)", 0.12),
        ("int(7.9)", 7),
        ("float(3)", 3.0),
        ("mask + [8]", [1, 4, 8]),
        ("'x' * 3", "xxx"),
        ("s + 'c'", "abc"),
        ("1_000 * 2", 2000),
        ("1e-3 * 2", 0.002),
    ],
)
def test_values(text: str, value: object) -> None:
    result = run(text)
    assert result == value
    assert type(result) is type(value)


@pytest.mark.parametrize(
    ("text", "code", "start"),
    [
        ("a +", "P120", 3),
        ("(a", "P120", 2),
        ("a.b", "P120", 1),  # attribute access
        ("mask[0]", "P120", 4),  # subscripts
        ("lambda: 1", "P120", 6),
        ("[x for x in mask]", "P120", 3),  # comprehensions
        ("a < 3", "P120", 2),
        ("__import__('os')", "P126", 0),
        ("open('f')", "P126", 0),
        ("nope + 1", "P121", 0),
        ("1 / 0", "P124", 2),
        ("a % 0", "P124", 2),
        ("9 ** 9 ** 9", "P123", 2),
        ("'x' * 10 ** 9", "P123", 4),
        ("mask * 100000", "P123", 5),
        ("2 ** 255 * 2 ** 255", "P123", 2),
        ("10.0 ** 400", "P124", 5),
        ("(-8) ** 0.5", "P122", 5),
        ("s - 1", "P122", 2),
        ("-s", "P122", 0),
        ("min()", "P122", 0),
        ("010", "P120", 0),
        ("", "P120", 0),
    ],
)
def test_errors(text: str, code: str, start: int) -> None:
    with pytest.raises(ExprError) as raised:
        run(text)
    assert (raised.value.code, raised.value.start) == (code, start)


def test_length_and_depth_limits() -> None:
    with pytest.raises(ExprError) as raised:
        run("(" * 60 + "1" + ")" * 60)
    assert raised.value.code == "P123"
    with pytest.raises(ExprError) as raised:
        run("1" + " + 1" * 1000)
    assert raised.value.code == "P123"
    assert run(" + ".join(["1"] * 150)) == 150  # far longer than any real recipe's


RECIPE = """
num_epochs: 10
modifiers:
  - !EpochRangeModifier
    start_epoch: 0.0
    end_epoch: {value}
"""


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("eval(num_epoch + 1)", [(5, 21, "P121")]),  # plain scalar: exact column
        ("'eval(num_epochs + x)'", [(5, 35, "P121")]),  # quoted: one more for the quote
        ('"eval(num_epochs +)"', [(5, 34, "P120")]),  # end of input: just past the text
        ("eval(num_epochs / 0)", [(5, 32, "P124")]),  # the operator
        ("eval(9 ** 9 ** 9)", [(5, 23, "P123")]),
        ("eval(__import__('os'))", [(5, 21, "P126")]),
    ],
)
def test_errors_point_inside_the_scalar(value: str, expected: list[tuple[int, int, str]]) -> None:
    assert found(RECIPE.format(value=value)) == expected


def test_escaped_or_block_scalars_fall_back_to_the_whole_scalar() -> None:
    assert found(RECIPE.format(value='"eval(num_epochs \\x2b nope)"')) == [(5, 16, "P121")]


def test_unary_minus_works_unlike_sparseml() -> None:
    recipe = ok(RECIPE.format(value="eval(num_epochs - -2)"))
    assert recipe.modifiers[0].value("end_epoch") == 12.0


def test_eval_needs_exact_prefix_and_suffix() -> None:
    # `eval (x)` is not an expression for SparseML: it stays a string.
    assert found(RECIPE.format(value="'eval (num_epochs)'")) == [(5, 16, "S205")]


# -- the table-driven parser is lark's parser ---------------------------------


def test_tables_are_generated_from_the_grammar() -> None:
    # Fails when expr.lark changed without `scripts/gen_expr_tables.py`, or the tables were edited by hand.
    generator = _generator()
    assert (ROOT / "recipekit" / "compiler" / "expr_tables.py").read_text(encoding="utf-8") == generator.render()


FRAGMENTS = ["1", "2.5", "1e3", "1_0", "07", ".5", "a", "min", "'s'", '"t"', "+", "-", "*", "/", "//", "%", "**"]
FRAGMENTS += ["(", ")", "[", "]", ",", " ", ".", "<", "!", "\t"]


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=14))
def test_parser_agrees_with_lark(fragments: list[str]) -> None:
    text = "".join(fragments)
    assert _outcome(parse, text) == _outcome(_lark_parse, text)


@pytest.mark.parametrize(
    "text",
    ["(a + 1) * -b", "f(1, [2, 3,], (4))", "[]", "g()", "-(-(-1))", "2 ** -a ** 2 // 3 % 4", "x\t+\n'y'", "[1,]", "((a))"],
)
def test_parser_agrees_with_lark_on_shapes(text: str) -> None:
    assert _outcome(parse, text) == _outcome(_lark_parse, text)
    assert not isinstance(_outcome(parse, text), tuple)  # each of these parses


def _outcome(parser: Callable[[str], Expr], text: str) -> object:
    try:
        return parser(text)
    except ExprError as error:
        return (error.code, error.message, error.start, error.end)


ROOT = Path(__file__).resolve().parents[1]


def _generator() -> Any:
    spec = importlib.util.spec_from_file_location("gen_expr_tables", ROOT / "scripts" / "gen_expr_tables.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@functools.cache
def _lark() -> Any:
    return _generator().build_parser()


def _lark_parse(text: str) -> Expr:
    """The oracle: lark's own parser on expr.lark, its tree turned into our AST."""
    from lark import Token, Tree
    from lark.exceptions import UnexpectedCharacters, UnexpectedToken

    # The same checks before parsing as `parse`, which the driver does not change.
    if not text.strip():
        return parse(text)
    try:
        tree = _lark().parse(text)
    except UnexpectedToken as error:
        if error.token.type == "$END":
            message = "expression ends too early; is a closing parenthesis or operand missing?"
            raise ExprError("P120", message, len(text), len(text) + 1) from None
        start = error.token.start_pos
        raise ExprError("P120", f"unexpected {error.token.value!r} in expression", start, start + max(1, len(error.token.value))) from None
    except UnexpectedCharacters as error:
        position = error.pos_in_stream or 0
        char = text[position]
        hint = {".": "; attribute access is not part of the expression language"}.get(char, "")
        hint = "; comparisons are not part of the expression language" if char in "<>=!" else hint
        raise ExprError("P120", f"unexpected character {char!r} in expression{hint}", position, position + 1) from None

    def build(node: Any) -> Any:
        start, end = node.meta.start_pos, node.meta.end_pos
        subtrees = [build(child) for child in node.children if isinstance(child, Tree)]
        token = next((child for child in node.children if isinstance(child, Token)), None)
        kind = node.data
        items = tuple(subtrees[0]) if subtrees and kind in ("list", "call") else ()
        if kind == "number":
            return Const(start, end, expr_module._number(str(token), start, end))
        if kind == "string":
            return Const(start, end, str(token)[1:-1])
        if kind == "name":
            return Name(start, end, str(token))
        if kind == "args":
            return subtrees
        if kind == "list":
            return ListExpr(start, end, items)
        if kind == "call":
            return Call(start, end, str(token), items)
        if kind in ("neg", "pos"):
            return Unary(start, end, "-" if kind == "neg" else "+", subtrees[0])
        left, right = subtrees
        op = {"add": "+", "sub": "-", "mul": "*", "div": "/", "floordiv": "//", "mod": "%", "pow": "**"}[kind]
        return Binary(start, end, op, left, right, text.find(op, left.end))

    result: Expr = build(tree)
    return result
