"""`eval(...)`: the grammar, the evaluator, its limits and error columns in the file."""

from __future__ import annotations

import pytest

from recipekit.compiler.evaluate import evaluate
from recipekit.compiler.expr import ExprError, Name, parse
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
