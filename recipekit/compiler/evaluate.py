"""A bounded interpreter for expression ASTs.

Python semantics for numbers (``10/2`` is ``5.0``, ``7//2`` is ``3``,
``True`` counts as 1, as in SparseML), but every operation that could burn CPU
or memory is checked *before* it runs: integer size, exponents, string and
list lengths.  Nothing here can reach Python builtins or attributes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from recipekit import limits
from recipekit.compiler.expr import Binary, Call, Const, Expr, ExprError, ListExpr, Name, Unary

Value = Any


def type_name(value: Value) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if value is None:
        return "null"
    return "mapping"


def _is_number(value: Value) -> bool:
    return isinstance(value, (int, float))


def evaluate(expr: Expr, lookup: Callable[[Name], Value]) -> Value:
    """Evaluate ``expr``; ``lookup`` resolves names or raises :class:`ExprError`."""
    if isinstance(expr, Const):
        return expr.value
    if isinstance(expr, Name):
        return lookup(expr)
    if isinstance(expr, ListExpr):
        items = [evaluate(item, lookup) for item in expr.items]
        _check_length(len(items), expr)
        return items
    if isinstance(expr, Unary):
        operand = evaluate(expr.operand, lookup)
        if not _is_number(operand):
            raise ExprError("P122", f"unary {expr.op} needs a number, got a {type_name(operand)}", expr.start, expr.end)
        return -operand if expr.op == "-" else +operand
    if isinstance(expr, Binary):
        return _binary(expr, evaluate(expr.left, lookup), evaluate(expr.right, lookup))
    if isinstance(expr, Call):
        return _call(expr, [evaluate(arg, lookup) for arg in expr.args])
    raise AssertionError(f"unknown expression node {expr!r}")  # pragma: no cover


def _error(expr: Binary, code: str, message: str) -> ExprError:
    return ExprError(code, message, expr.op_start, expr.op_start + len(expr.op))


def _binary(expr: Binary, left: Value, right: Value) -> Value:
    op = expr.op
    if _is_number(left) and _is_number(right):
        return _arithmetic(expr, left, right)
    if op == "+" and type(left) is type(right) and isinstance(left, (str, list)):
        _check_length(len(left) + len(right), expr)
        return left + right
    if op == "*" and isinstance(left, (str, list)) and isinstance(right, int):
        left, right = right, left
    if op == "*" and isinstance(left, int) and isinstance(right, (str, list)):
        _check_length(max(0, left) * len(right), expr)
        return left * right
    raise _error(expr, "P122", f"cannot apply {op} to a {type_name(left)} and a {type_name(right)}")


def _arithmetic(expr: Binary, left: float, right: float) -> Value:
    op = expr.op
    if op in ("/", "//", "%") and right == 0:
        raise _error(expr, "P124", "division by zero")
    if op == "**":
        return _power(expr, left, right)
    try:
        if op == "+":
            result = left + right
        elif op == "-":
            result = left - right
        elif op == "*":
            if isinstance(left, int) and isinstance(right, int) and abs(left).bit_length() + abs(right).bit_length() > limits.MAX_INT_BITS:
                raise _error(expr, "P123", f"integer result would exceed {limits.MAX_INT_BITS} bits")
            result = left * right
        elif op == "/":
            result = left / right
        elif op == "//":
            result = left // right
        else:
            result = left % right
    except OverflowError:
        raise _error(expr, "P124", "numeric overflow") from None
    return _checked(expr, result, left, right)


def _power(expr: Binary, base: float, exponent: float) -> Value:
    if isinstance(base, int) and isinstance(exponent, int):
        if exponent < 0 and base == 0:
            raise _error(expr, "P124", "zero cannot be raised to a negative power")
        if abs(base) > 1 and abs(exponent) > limits.MAX_INT_EXPONENT:
            raise _error(expr, "P123", f"exponent {exponent} is over the limit of {limits.MAX_INT_EXPONENT}")
        if exponent > 0 and abs(base).bit_length() * exponent > limits.MAX_INT_BITS + abs(base).bit_length():
            raise _error(expr, "P123", f"integer result would exceed {limits.MAX_INT_BITS} bits")
    try:
        result = base**exponent
    except ZeroDivisionError:
        raise _error(expr, "P124", "zero cannot be raised to a negative power") from None
    except OverflowError:
        raise _error(expr, "P124", "numeric overflow") from None
    if isinstance(result, complex):
        raise _error(expr, "P122", "a negative number raised to a fractional power has no real value")
    return _checked(expr, result, base, exponent)


def _checked(expr: Binary, result: Value, left: float, right: float) -> Value:
    if isinstance(result, float) and not math.isfinite(result) and math.isfinite(left) and math.isfinite(right):
        raise _error(expr, "P124", "numeric overflow")
    if isinstance(result, int) and abs(result).bit_length() > limits.MAX_INT_BITS:
        raise _error(expr, "P123", f"integer result exceeds {limits.MAX_INT_BITS} bits")
    return result


def _check_length(length: int, expr: Expr) -> None:
    if length > limits.MAX_SEQUENCE_LENGTH:
        start = expr.op_start if isinstance(expr, Binary) else expr.start
        end = start + len(expr.op) if isinstance(expr, Binary) else expr.end
        raise ExprError("P123", f"result would hold {length} items, over the limit of {limits.MAX_SEQUENCE_LENGTH}", start, end)


def _call(expr: Call, args: list[Value]) -> Value:
    function = FUNCTIONS.get(expr.function)
    if function is None:
        allowed = ", ".join(sorted(FUNCTIONS))
        end = expr.start + len(expr.function)
        raise ExprError("P126", f"unknown function {expr.function!r}; available functions are {allowed}", expr.start, end)
    return function(expr, args)


def _numbers(expr: Call, args: list[Value], minimum: int, maximum: int) -> list[float]:
    if not minimum <= len(args) <= maximum:
        count = str(minimum) if minimum == maximum else f"{minimum} to {maximum}"
        raise ExprError("P122", f"{expr.function}() takes {count} arguments, got {len(args)}", expr.start, expr.end)
    for arg in args:
        if not _is_number(arg):
            raise ExprError("P122", f"{expr.function}() needs numbers, got a {type_name(arg)}", expr.start, expr.end)
    return args


def _min_max(expr: Call, args: list[Value]) -> Value:
    values = args[0] if len(args) == 1 and isinstance(args[0], list) else args
    if not values:
        raise ExprError("P122", f"{expr.function}() needs at least one value", expr.start, expr.end)
    _numbers(expr, values, 1, limits.MAX_SEQUENCE_LENGTH)
    return min(values) if expr.function == "min" else max(values)


def _convert(expr: Call, args: list[Value]) -> Value:
    if len(args) != 1:
        raise ExprError("P122", f"{expr.function}() takes 1 argument, got {len(args)}", expr.start, expr.end)
    value = args[0]
    try:
        if isinstance(value, str) and expr.function == "int":
            return int(float(value)) if "." in value or "e" in value.lower() else int(value)
        if isinstance(value, (int, float, str)):
            return int(value) if expr.function == "int" else float(value)
    except (ValueError, OverflowError):
        pass
    raise ExprError("P122", f"{expr.function}() cannot convert {value!r}", expr.start, expr.end)


def _round(expr: Call, args: list[Value]) -> Value:
    values = _numbers(expr, args, 1, 2)
    if len(values) == 2:
        if not isinstance(values[1], int):
            raise ExprError("P122", "round() needs a whole number of digits", expr.start, expr.end)
        return round(values[0], values[1])
    try:
        return round(values[0])
    except (OverflowError, ValueError):
        raise ExprError("P124", "cannot round an infinite or NaN value", expr.start, expr.end) from None


FUNCTIONS: Mapping[str, Callable[[Call, list[Value]], Value]] = {
    "abs": lambda expr, args: abs(_numbers(expr, args, 1, 1)[0]),
    "min": _min_max,
    "max": _min_max,
    "int": _convert,
    "float": _convert,
    "round": _round,
}
