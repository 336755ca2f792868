"""Validate a modifier's YAML nodes against its schema and compute effective values.

A small interpreter for the subset of JSON Schema our modifier schemas use,
working directly on the YAML node tree so that every error lands on the
most specific span: a bad value on the value, an unknown key on the key, a
missing key on the modifier's tag.  It also applies SparseML's coercions,
which the schemas declare with ``x-`` annotations:

``x-convert: float``            SparseML calls ``float()`` on the value.
``x-convert: float-if-string``  SparseML converts strings with ``float()``.
``x-convert: bool``             SparseML's ``convert_to_bool`` (``"no"`` is True!).
``x-convert: int``              SparseML calls ``int()`` on the (integral) value.
``x-float-only``                SparseML rejects ints here (``init_sparsity: 0``).
``x-integral``                  SparseML rejects values with a fractional part.
``x-forced``                    SparseML ignores the given value and uses this one.
``x-sparsity-dict``             an object whose keys are sparsities in (0, 1).
``x-message``                   the message to show when ``const`` fails.

(The tests check this interpreter against ``jsonschema`` on the same schemas.)
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from typing import Any

from recipekit.compiler import yaml11
from recipekit.compiler.yaml_tree import Map, Node, Scalar, Seq
from recipekit.diagnostics import Diagnostic, Fix
from recipekit.source import Source, Span
from recipekit.suggest import did_you_mean

_NUMERIC_STRING = re.compile(r"^[-+]?(?:\d[\d_]*\.?[\d_]*|\.\d[\d_]*)(?:[eE][-+]?\d+)?$")
_TYPE_WORDS = {
    "number": "a number",
    "integer": "an integer",
    "string": "a string",
    "boolean": "a boolean",
    "null": "null",
    "array": "a list",
    "object": "a mapping",
}


class Outcome:
    """What validating one value produced."""

    __slots__ = ("value", "ok", "coerced_from", "diagnostics")

    def __init__(
        self, value: Any = None, ok: bool = True, coerced_from: str | None = None, diagnostics: list[Diagnostic] | None = None
    ) -> None:
        self.value = value
        self.ok = ok
        self.coerced_from = coerced_from
        self.diagnostics: list[Diagnostic] = diagnostics if diagnostics is not None else []


def describe(node: Node) -> str:
    if isinstance(node, Seq):
        return "a list"
    if isinstance(node, Map):
        return "a mapping"
    assert isinstance(node, Scalar)
    value = node.value
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {node.text}"
    if isinstance(value, (int, float)):
        return f"the number {node.text}"
    return f"the string {value!r}"


def to_python(node: Node) -> Any:
    """Plain Python data for free-form values (``lr_kwargs``, ``scheme_overrides``)."""
    if isinstance(node, Scalar):
        return node.value
    if isinstance(node, Seq):
        return [to_python(item) for item in node.items]
    assert isinstance(node, Map)
    return {key.value if isinstance(key.value, str) else key.text: to_python(value) for key, value in node.entries}


def json_type_of(node: Node) -> str:
    if isinstance(node, Seq):
        return "array"
    if isinstance(node, Map):
        return "object"
    assert isinstance(node, Scalar)
    value = node.value
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return "string"


class Validator:
    def __init__(self, source: Source, field_name: str, variables: Iterable[str] = ()) -> None:
        self.source = source
        self.field = field_name
        #: Recipe variable names, to suggest eval(name) for a bare name.
        self.variables = frozenset(variables)

    def error(self, code: str, span: Span, message: str) -> Diagnostic:
        return self.source.diag(code, span, message)

    def validate(self, node: Node, schema: dict[str, Any]) -> Outcome:
        if "anyOf" in schema:
            return self.any_of(node, schema)
        outcome = self.check_type(node, schema)
        if not outcome.ok:
            return outcome
        for check in (self.check_const, self.check_enum, self.check_range):
            diagnostic = check(outcome.value, node, schema)
            if diagnostic is not None:
                return Outcome(ok=False, diagnostics=[diagnostic])
        if isinstance(node, Seq):
            return self.check_items(node, schema, outcome)
        if isinstance(node, Map):
            return self.check_object(node, schema)
        return outcome

    # -- types and conversions ---------------------------------------------
    def check_type(self, node: Node, schema: dict[str, Any]) -> Outcome:
        expected = schema.get("type")
        if expected is None:
            return Outcome(to_python(node))
        types = [expected] if isinstance(expected, str) else list(expected)
        actual = json_type_of(node)
        convert = schema.get("x-convert")
        if convert == "bool" and isinstance(node, Scalar) and isinstance(node.value, str):
            return Outcome(_sparseml_bool(node.value), coerced_from=node.text)
        if actual in types or (actual == "integer" and "number" in types):
            return self.typed_value(node, actual, schema)
        if (
            actual == "number"
            and "integer" in types
            and isinstance(node, Scalar)
            and isinstance(node.value, float)
            and node.value.is_integer()
        ):
            return Outcome(node.value)
        if "number" in types and isinstance(node, Scalar) and isinstance(node.value, str) and _NUMERIC_STRING.match(node.value.strip()):
            return self.numeric_string(node, schema)
        wanted = " or ".join(_TYPE_WORDS[t] for t in types)
        hint = ""
        if isinstance(node, Scalar) and node.value in self.variables:
            hint = f"; SparseML never substitutes a bare variable name, write eval({node.value})"
        message = f"{self.field} must be {wanted}, not {describe(node)}{hint}"
        return Outcome(ok=False, diagnostics=[self.error("S205", node.span, message)])

    def typed_value(self, node: Node, actual: str, schema: dict[str, Any]) -> Outcome:
        if not isinstance(node, Scalar):
            return Outcome(None)
        value = node.value
        if actual in ("integer", "number"):
            assert isinstance(value, (int, float))
            if isinstance(value, float) and not math.isfinite(value):
                return Outcome(
                    ok=False, diagnostics=[self.error("S206", node.span, f"{self.field} must be a finite number, not {node.text}")]
                )
            if schema.get("x-float-only") and actual == "integer":
                message = f"{self.field} must be written as a float such as {value}.0; SparseML rejects the integer {value}"
                return Outcome(ok=False, diagnostics=[self.error("S205", node.span, message)])
            if schema.get("x-integral") and not float(value).is_integer():
                return Outcome(
                    ok=False, diagnostics=[self.error("S206", node.span, f"{self.field} must be a whole number, not {node.text}")]
                )
            if schema.get("x-convert") == "float":
                value = float(value)
            elif schema.get("x-convert") == "int":
                value = int(value)
        return Outcome(value)

    def numeric_string(self, node: Scalar, schema: dict[str, Any]) -> Outcome:
        text = str(node.value).strip()
        if schema.get("x-convert") in ("float", "float-if-string"):
            value = float(text.replace("_", ""))
            if not math.isfinite(value):
                return Outcome(ok=False, diagnostics=[self.error("S206", node.span, f"{self.field} must be finite")])
            return Outcome(value, coerced_from=node.text)
        fixed = yaml11.float_spelling(text)
        message = f"SparseML's YAML 1.1 loader reads {node.text} as a string, and {self.field} does not accept strings; write {fixed}"
        return Outcome(ok=False, diagnostics=[self.source.diag("S208", node.span, message, fix=self.respell(node, fixed))])

    def respell(self, node: Scalar, fixed: str) -> Fix | None:
        """Rewrite the scalar where it is written, when that is here (not an alias, an eval or an escape)."""
        if node.alias_of is not None or node.expression is not None:
            return None
        raw = self.source.text[node.span.start : node.span.end]
        if raw != node.text and not (node.style in ("'", '"') and raw[1:-1] == node.text):
            return None
        return self.source.fix(f"write {fixed}", [(node.span, fixed)])

    # -- value checks -------------------------------------------------------
    def check_const(self, value: Any, node: Node, schema: dict[str, Any]) -> Diagnostic | None:
        if "const" not in schema or _same(value, schema["const"]):
            return None
        message = schema.get("x-message") or f"{self.field} must be {schema['const']!r}"
        return self.error("S207", node.span, f"{message}, not {describe(node).split(' ', 2)[-1]}")

    def check_enum(self, value: Any, node: Node, schema: dict[str, Any]) -> Diagnostic | None:
        choices = schema.get("enum")
        if choices is None or value in choices:
            return None
        listed = ", ".join(str(c) for c in choices)
        hint = did_you_mean(str(value), [str(c) for c in choices])
        return self.error("S207", node.span, f"{self.field} must be one of {listed}, not {value!r}{hint}")

    def check_range(self, value: Any, node: Node, schema: dict[str, Any]) -> Diagnostic | None:
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return None
        failed = [key for key, test in _BOUNDS.items() if key in schema and not test(value, schema[key])]
        if not failed:
            return None
        parts = [f"{word} {bound}" for word, bound in _range_words(schema)]
        return self.error("S206", node.span, f"{self.field} must be {' and '.join(parts)}, not {_show(value, node)}")

    def check_items(self, node: Seq, schema: dict[str, Any], outcome: Outcome) -> Outcome:
        items_schema = schema.get("items")
        values: list[Any] = []
        diagnostics: list[Diagnostic] = []
        min_items = schema.get("minItems")
        if min_items is not None and len(node.items) < min_items:
            diagnostics.append(self.error("S206", node.span, f"{self.field} needs at least {min_items} items"))
        for item in node.items:
            if isinstance(item, Seq) and items_schema is not None and items_schema.get("type") == "string":
                # SparseML flattens nested lists of names (validate_str_iterable).
                inner = self.check_items(item, schema, Outcome())
                values.extend(inner.value or [])
                diagnostics.extend(inner.diagnostics)
                continue
            result = self.validate(item, items_schema) if items_schema is not None else Outcome(to_python(item))
            values.append(result.value)
            diagnostics.extend(result.diagnostics)
        return Outcome(values, ok=not diagnostics, diagnostics=diagnostics)

    def check_object(self, node: Map, schema: dict[str, Any]) -> Outcome:
        if schema.get("x-sparsity-dict"):
            return self.sparsity_dict(node, schema)
        properties: dict[str, Any] = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        result: dict[str, Any] = {}
        diagnostics: list[Diagnostic] = []
        for key, value in node.entries:
            name = key.value if isinstance(key.value, str) else key.text
            if name in properties:
                outcome = Validator(self.source, f"{self.field}.{name}", self.variables).validate(value, properties[name])
            elif extra is False:
                hint = did_you_mean(name, properties)
                diagnostics.append(self.error("S203", key.span, f"unknown key {name!r} in {self.field}{hint}"))
                continue
            elif isinstance(extra, dict):
                outcome = Validator(self.source, f"{self.field}.{name}", self.variables).validate(value, extra)
            else:
                outcome = Outcome(to_python(value))
            diagnostics.extend(outcome.diagnostics)
            result[name] = outcome.value
        return Outcome(result, ok=not diagnostics, diagnostics=diagnostics)

    def sparsity_dict(self, node: Map, schema: dict[str, Any]) -> Outcome:
        result: dict[float, Any] = {}
        diagnostics: list[Diagnostic] = []
        for key, value in node.entries:
            sparsity = key.value
            if isinstance(sparsity, str) and _NUMERIC_STRING.match(sparsity):
                sparsity = float(sparsity)
            if isinstance(sparsity, bool) or not isinstance(sparsity, float) or not 0 < sparsity < 1:
                message = f"keys of {self.field} must be float sparsities in (0, 1), not {key.text}"
                diagnostics.append(self.error("S206", key.span, message))
                continue
            outcome = Validator(self.source, f"{self.field}[{key.text}]", self.variables).validate(value, schema["additionalProperties"])
            diagnostics.extend(outcome.diagnostics)
            result[sparsity] = outcome.value
        return Outcome(result, ok=not diagnostics, diagnostics=diagnostics)

    # -- alternatives -----------------------------------------------------
    def with_list_hint(self, node: Node, options: list[dict[str, Any]], outcome: Outcome) -> Outcome:
        """A lone name where a list is expected: SparseML wants ``[name]``."""
        if not (isinstance(node, Scalar) and isinstance(node.value, str) and _list_alternative(options)):
            return outcome
        first = outcome.diagnostics[0]
        message = f"{first.message}; a single name must be written as a list: [{node.text}]"
        return Outcome(ok=False, diagnostics=[self.error(first.code, node.span, message)])

    def any_of(self, node: Node, schema: dict[str, Any]) -> Outcome:
        options: list[dict[str, Any]] = schema["anyOf"]
        failures: list[tuple[dict[str, Any], Outcome]] = []
        for option in options:
            outcome = self.validate(node, option)
            if outcome.ok:
                return outcome
            failures.append((option, outcome))
        actual = json_type_of(node)
        for _, outcome in failures:
            if any(d.code == "S208" for d in outcome.diagnostics):
                return outcome
        # Report the alternative the value was evidently aiming at: the one of its type.
        for option, outcome in failures:
            types = option.get("type")
            types = [types] if isinstance(types, str) else types or []
            if actual in types or (actual == "integer" and "number" in types):
                return self.with_list_hint(node, options, outcome)
        wanted = []
        for option in options:
            if "const" in option:
                wanted.append(repr(option["const"]))
            elif "enum" in option:
                wanted.append(" or ".join(repr(c) for c in option["enum"]))
            else:
                types = option.get("type", [])
                for t in [types] if isinstance(types, str) else types:
                    wanted.append(_TYPE_WORDS[t])
        message = f"{self.field} must be {', or '.join(dict.fromkeys(wanted))}, not {describe(node)}"
        return Outcome(ok=False, diagnostics=[self.error("S205", node.span, message)])


_BOUNDS: dict[str, Callable[[float, float], bool]] = {
    "minimum": lambda v, b: v >= b,
    "maximum": lambda v, b: v <= b,
    "exclusiveMinimum": lambda v, b: v > b,
    "exclusiveMaximum": lambda v, b: v < b,
}


def _list_alternative(options: list[dict[str, Any]]) -> bool:
    return any(option.get("type") == "array" for option in options)


def _range_words(schema: dict[str, Any]) -> list[tuple[str, Any]]:
    words = {"minimum": "at least", "maximum": "at most", "exclusiveMinimum": "greater than", "exclusiveMaximum": "less than"}
    return [(word, schema[key]) for key, word in words.items() if key in schema]


def _show(value: Any, node: Node) -> str:
    return node.text if isinstance(node, Scalar) and node.text and not node.text.startswith("eval(") else repr(value)


def _same(value: Any, const: Any) -> bool:
    if isinstance(value, bool) or isinstance(const, bool):
        return value is const
    return bool(value == const)


def _sparseml_bool(text: str) -> bool:
    # sparseml.utils.helpers.convert_to_bool, reproduced on purpose: "no" is True.
    lowered = text.lower()
    return bool(text) and "f" not in lowered and "0" not in lowered
