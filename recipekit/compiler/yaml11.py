"""Plain-scalar resolution exactly as PyYAML's SafeLoader (YAML 1.1) does it.

SparseML read recipes with PyYAML, so a recipe means what YAML 1.1 says it
means: ``1e-3`` is a *string* (a float needs a dot and a signed exponent),
``yes``/``off`` are booleans and ``010`` is octal.  ruamel.yaml implements
YAML 1.2, so we only use it for parsing and resolve plain scalars here.
"""

from __future__ import annotations

import re

_BOOL = {
    **dict.fromkeys(("yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"), True),
    **dict.fromkeys(("no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"), False),
}
_NULL = {"", "~", "null", "Null", "NULL"}
_FLOAT = re.compile(
    r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?
    |\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?
    |[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
    re.X,
)
_INT = re.compile(
    r"""^(?:[-+]?0b[0-1_]+
    |[-+]?0[0-7_]+
    |[-+]?(?:0|[1-9][0-9_]*)
    |[-+]?0x[0-9a-fA-F_]+
    |[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$""",
    re.X,
)
_TIMESTAMP = re.compile(r"^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt]|[ \t]+)[0-9]")
_DATE = re.compile(r"^[0-9]{4}-[0-9][0-9]-[0-9][0-9]$")

Scalar = None | bool | int | float | str


def resolve_plain(text: str) -> tuple[str, Scalar]:
    """Return ``(kind, value)`` for an untagged plain scalar.

    ``kind`` is one of null, bool, int, float, merge, timestamp, str.
    Timestamps stay strings: no SparseML parameter takes a date.
    """
    if text in _NULL:
        return "null", None
    if text in _BOOL:
        return "bool", _BOOL[text]
    if text == "<<":
        return "merge", text
    first = text[0]
    if first in "-+0123456789." and _INT.match(text):
        return "int", construct_int(text)
    if first in "-+0123456789." and _FLOAT.match(text):
        return "float", construct_float(text)
    if first in "0123456789" and (_DATE.match(text) or _TIMESTAMP.match(text)):
        return "timestamp", text
    return "str", text


def float_spelling(text: str) -> str:
    """Spell a number so that YAML 1.1 reads it as a float: ``1e-3`` -> ``1.0e-3``."""
    mantissa, _, exponent = text.lower().partition("e")
    if "." not in mantissa:
        mantissa += ".0"
    if exponent and exponent[0] not in "+-":
        exponent = "+" + exponent
    return mantissa + ("e" + exponent if exponent else "")


def construct_int(text: str) -> int:
    value = text.replace("_", "")
    sign = -1 if value.startswith("-") else 1
    if value[0] in "+-":
        value = value[1:]
    if value == "0":
        return 0
    if value.startswith("0b"):
        return sign * int(value[2:], 2)
    if value.startswith("0x"):
        return sign * int(value[2:], 16)
    if value.startswith("0"):
        return sign * int(value, 8)
    if ":" in value:
        return sign * _sexagesimal(value)
    return sign * int(value)


def construct_float(text: str) -> float:
    value = text.replace("_", "").lower()
    sign = -1.0 if value.startswith("-") else 1.0
    if value[0] in "+-":
        value = value[1:]
    if value == ".inf":
        return sign * float("inf")
    if value == ".nan":
        return float("nan")
    if ":" in value:
        parts = value.split(":")
        return sign * (_sexagesimal(":".join(parts[:-1])) * 60 + float(parts[-1]))
    return sign * float(value)


def _sexagesimal(value: str) -> int:
    total = 0
    for part in value.split(":"):
        total = total * 60 + int(part)
    return total
