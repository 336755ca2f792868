"""Check each v2 modifier against the schemas of both libraries; say which one accepts the recipe.

The schemas are the libraries' own pydantic models (``recipekit/schema/v2``),
and this interpreter follows pydantic's lax mode as the libraries run it: a
number may be written as a numeric string (PyYAML 1.1 reads ``5e-5`` as one),
a boolean as ``yes``/``no``.  llm-compressor refuses unknown arguments
(``extra="forbid"``, S222); SparseML 1.8 drops them without a word (S223), which
is why an argument neither library has (a misspelling) is an error in both
dialects; S223 is a warning only where the other library has the argument (the
file was written for it).  S223 does not count against SparseML's dialect when
choosing one (S227 says which tool loads the file).  When one
dialect accepts every modifier, its findings are the recipe's; when none does, the closest one's
errors are reported (fewest unknown modifiers, then fewest errors).
"""

from __future__ import annotations

import re
from typing import Any

from recipekit.compiler.v2.model import V2Modifier, V2Recipe
from recipekit.compiler.yaml_tree import Map, Node, Scalar, Seq
from recipekit.diagnostics import Diagnostic, Severity
from recipekit.schema import dialects
from recipekit.source import Source, Span
from recipekit.suggest import did_you_mean

_NUMBER = re.compile(r"^\s*[-+]?(?:\d[\d_]*\.?[\d_]*|\.\d[\d_]*)(?:[eE][-+]?\d+)?\s*$|^\s*[-+]?(?:inf|infinity|nan)\s*$", re.I)
_BOOL_WORDS = {"true", "false", "yes", "no", "on", "off", "t", "f", "y", "n", "1", "0"}
_TYPES = {"string": "a string", "number": "a number", "integer": "an integer", "boolean": "a boolean", "null": "null",
          "array": "a list", "object": "a mapping"}  # fmt: skip

Problem = tuple[str, Span, str]

#: Arguments SparseML's earlier v2 modifiers (1.6, 1.7) took and 1.8 drops without a word, with what
#: replaced them: SparseML's own recipes still write them (../shared/corpus), so they are S223 warnings
#: ("written for an earlier SparseML"), not the error a name no version has (a misspelling) is.
LEGACY_ARGUMENTS: dict[str, dict[str, str]] = {
    "SparseGPTModifier": {
        "percdamp": "dampening_frac",
        "quantize": "a QuantizationModifier",
        "prunen": "mask_structure 'N:M'",
        "prunem": "mask_structure 'N:M'",
        "target_ids": "nothing (it was removed)",
    },
    "GPTQModifier": {"percdamp": "dampening_frac"},
    "QuantizationModifier": {"scheme_overrides": "config_groups and ignore", "post_oneshot_calibration": "nothing (it was removed)"},
}


class _Checker:
    def __init__(self, dialect: str) -> None:
        self.dialect = dialect
        self.document = dialects.load_dialect(dialect)
        self.defs: dict[str, Any] = self.document["$defs"]
        self.presets = {p.upper() for p in self.document["x-presets"]}
        self.where = dialects.label(dialect)
        #: Where an S223 argument is one an earlier SparseML took (a warning, not a misspelling's error).
        self.legacy: set[Span] = set()

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            target = self.defs[schema["$ref"].rsplit("/", 1)[1]]
            schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
        return schema

    def modifier(self, modifier: V2Modifier) -> list[Problem]:
        schemas = self.document["modifiers"]
        if modifier.type not in schemas:
            return [("S220", modifier.key.span, self.unknown_modifier(modifier.type))]
        schema = schemas[modifier.type]
        assert isinstance(modifier.args, Map)
        return self.object(modifier.args, schema, modifier.key.span, modifier.type, top=True)

    def unknown_modifier(self, name: str) -> str:
        names = list(self.document["modifiers"])
        others = [d for d in dialects.DIALECTS if d != self.dialect and name in dialects.modifier_names(d)]
        also = f" (it is a {dialects.label(others[0])} modifier)" if others else ""
        return f"{self.where} has no modifier {name!r}{also}{did_you_mean(name, names)}"

    def object(self, node: Map, schema: dict[str, Any], anchor: Span, owner: str, top: bool = False) -> list[Problem]:
        problems: list[Problem] = []
        properties: dict[str, Any] = schema.get("properties", {})
        extra = schema.get("additionalProperties", None if properties else True)
        for key, value in node.entries:
            name = key.text
            if name in properties:
                problems += self.value(value, properties[name], f"{owner}.{name}")
                if name == "scheme" and self.presets:
                    problems += self.scheme(value, owner)
            elif isinstance(extra, dict):
                problems += self.value(value, extra, f"{owner}.{name}")
            elif extra is False:
                hint = did_you_mean(name, properties)
                message = f"{owner} has no argument {name!r}{hint}; {self.where} refuses unknown arguments. Remove or rename it"
                problems.append(("S222", key.span, message))
            elif extra is None or top:
                legacy = LEGACY_ARGUMENTS.get(owner, {}).get(name) if top and self.dialect == "sparseml" else None
                if legacy is not None:
                    self.legacy.add(key.span)
                    message = (
                        f"{owner} has no argument {name!r} in {self.where}, which ignores it without a word: an earlier SparseML "
                        f"took it; use {legacy}"
                    )
                else:
                    hint = did_you_mean(name, properties)
                    message = (
                        f"{owner} has no argument {name!r}{hint}; {self.where} ignores it without a word, so it has no effect: "
                        "remove or rename it"
                    )
                problems.append(("S223", key.span, message))
        for name in schema.get("required", []):
            if node.get(name) is None and node.key_node(name) is None:
                problems.append(("S224", anchor, f"{owner} needs {name!r} in {self.where}"))
        return problems

    def scheme(self, node: Node, owner: str) -> list[Problem]:
        listed = ", ".join(sorted(self.document["x-presets"]))
        if isinstance(node, Scalar) and isinstance(node.value, str):
            if node.value.upper() in self.presets:
                return []
            hint = did_you_mean(node.value.upper(), self.document["x-presets"])
            return [("S226", node.span, f"{node.value!r} is not a preset scheme of {self.where}{hint} (presets: {listed})")]
        if isinstance(node, Map):
            # SparseML also takes the fields of a QuantizationScheme here; llm-compressor only {PRESET: targets}.
            fields = (
                set(self.resolve({"$ref": "#/$defs/QuantizationScheme"}).get("properties", {})) if self.dialect == "sparseml" else set()
            )
            problems: list[Problem] = []
            for key, _ in node.entries:
                if key.text.upper() not in self.presets and key.text not in fields:
                    hint = did_you_mean(key.text.upper(), self.document["x-presets"])
                    problems.append(("S226", key.span, f"{key.text!r} is not a preset scheme of {self.where}{hint} (presets: {listed})"))
            return problems
        return []

    def value(self, node: Node, schema: dict[str, Any], where: str) -> list[Problem]:
        schema = self.resolve(schema)
        if self.dialect == "sparseml" and isinstance(node, Scalar) and isinstance(node.value, str) and node.value.startswith("eval("):
            return []  # SparseML evaluates it against the recipe's variables first
        if "anyOf" in schema:
            return self.any_of(node, schema["anyOf"], where)
        if "enum" in schema:
            value = node.value if isinstance(node, Scalar) else None
            if value not in schema["enum"]:
                choices = ", ".join(repr(c) for c in schema["enum"])
                hint = did_you_mean(str(value), [str(c) for c in schema["enum"]]) if isinstance(value, str) else ""
                return [("S225", node.span, f"{where} must be one of {choices}, not {_show(node)}{hint}")]
            return []
        if "const" in schema:
            if not isinstance(node, Scalar) or node.value != schema["const"]:
                return [("S225", node.span, f"{where} must be {schema['const']!r}, not {_show(node)}")]
            return []
        kind = schema.get("type")
        if kind is None:
            return []
        if not _is(node, kind):
            return [("S225", node.span, f"{where} must be {_TYPES.get(kind, kind)}, not {_show(node)}")]
        if kind == "array" and isinstance(node, Seq) and "items" in schema:
            return [p for item in node.items for p in self.value(item, schema["items"], where)]
        if kind == "object" and isinstance(node, Map):
            return self.object(node, schema, node.span, where)
        if kind in ("number", "integer") and isinstance(node, Scalar):
            return _range(node, schema, where)
        return []

    def any_of(self, node: Node, options: list[dict[str, Any]], where: str) -> list[Problem]:
        results = [self.value(node, option, where) for option in options]
        if any(not r for r in results):
            return []
        # The option whose type fits is the one the author meant: report what is wrong inside it.
        fitting = [r for option, r in zip(options, results, strict=True) if _fits(node, self.resolve(option))]
        if len(fitting) == 1:
            return fitting[0]
        kinds = []
        for option in options:
            resolved = self.resolve(option)
            word = _TYPES.get(resolved.get("type", ""), "") or (
                "one of " + ", ".join(map(repr, resolved["enum"])) if "enum" in resolved else ""
            )
            if word and word not in kinds:
                kinds.append(word)
        return [("S225", node.span, f"{where} must be {' or '.join(kinds) or 'something else'}, not {_show(node)}")]


def _fits(node: Node, schema: dict[str, Any]) -> bool:
    kind = schema.get("type")
    if kind is None:
        return "enum" in schema and isinstance(node, Scalar)
    return (
        (kind == "array" and isinstance(node, Seq))
        or (kind == "object" and isinstance(node, Map))
        or (kind not in ("array", "object") and _is(node, kind))
    )


def _is(node: Node, kind: str) -> bool:
    if kind == "array":
        return isinstance(node, Seq)
    if kind == "object":
        return isinstance(node, Map)
    if not isinstance(node, Scalar):
        return False
    value = node.value
    if kind == "null":
        return value is None
    if kind == "string":
        return isinstance(value, str)
    if kind == "boolean":
        return isinstance(value, bool) or value in (0, 1) or (isinstance(value, str) and value.lower() in _BOOL_WORDS)
    if isinstance(value, bool):
        return False
    if kind == "number":
        return isinstance(value, (int, float)) or (isinstance(value, str) and bool(_NUMBER.match(value)))
    if kind == "integer":
        if isinstance(value, str) and _NUMBER.match(value):
            try:
                value = float(value)
            except ValueError:
                return False
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    return False


def _range(node: Scalar, schema: dict[str, Any], where: str) -> list[Problem]:
    try:
        value = float(node.value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return []
    checks = (("minimum", value >= schema.get("minimum", value), "at least"), ("maximum", value <= schema.get("maximum", value), "at most"),
              ("exclusiveMinimum", value > schema.get("exclusiveMinimum", value - 1), "more than"),
              ("exclusiveMaximum", value < schema.get("exclusiveMaximum", value + 1), "less than"))  # fmt: skip
    for key, ok, words in checks:
        if key in schema and not ok:
            return [("S225", node.span, f"{where} must be {words} {schema[key]}, not {node.text}")]
    return []


def _show(node: Node) -> str:
    from recipekit.compiler.validate import describe

    return describe(node)


def check_modifiers(recipe: V2Recipe, source: Source) -> list[Diagnostic]:
    """Every modifier against each dialect; sets ``recipe.dialect``/``matched`` and returns the chosen dialect's findings."""
    found: dict[str, list[Diagnostic]] = {}
    for dialect in dialects.DIALECTS:
        checker = _Checker(dialect)
        found[dialect] = [
            _warning(source.diag(code, span, message)) if code == "S223" and span in checker.legacy else source.diag(code, span, message)
            for m in recipe.modifiers
            for code, span, message in checker.modifier(m)
        ]
    found = _known_elsewhere(found)
    # Which library accepts the file: an argument SparseML drops silently (S223) does not stop it loading there.
    errors = {d: [x for x in found[d] if x.severity is Severity.ERROR and x.code != "S223"] for d in dialects.DIALECTS}
    recipe.matched = tuple(d for d in dialects.DIALECTS if not errors[d])
    if recipe.matched:
        # The library that takes every argument, when one does: its reading is the one the file was written for.
        clean = [d for d in recipe.matched if not any(x.severity is Severity.ERROR for x in found[d])]
        recipe.dialect = (clean or list(recipe.matched))[0]
    else:
        recipe.dialect = min(dialects.DIALECTS, key=lambda d: (sum(x.code == "S220" for x in errors[d]), len(errors[d])))
    diagnostics = list(found[recipe.dialect])
    # Said only when it matters: when one library (or both) refuses what the other accepts.
    if recipe.modifiers and len(recipe.matched) < len(dialects.DIALECTS):
        diagnostics.append(_dialect_note(recipe, errors, source))
    return diagnostics


def _known_elsewhere(found: dict[str, list[Diagnostic]]) -> dict[str, list[Diagnostic]]:
    """S223 is an error for an argument no library has (a misspelling); a warning where another library has it.

    An argument the other library takes (a newer compressed-tensors field such as ``actorder``)
    says the file was written for that library; one neither takes does nothing anywhere.
    """
    result = {}
    for dialect, diagnostics in found.items():
        unknown_elsewhere = {d.location for other, ds in found.items() if other != dialect for d in ds if d.code in ("S222", "S223")}
        result[dialect] = [
            _warning(d, d.message.removesuffix(": remove or rename it") + " (the other library has it)")
            if d.code == "S223" and d.severity is Severity.ERROR and d.location not in unknown_elsewhere
            else d
            for d in diagnostics
        ]
    return result


def _warning(diagnostic: Diagnostic, message: str | None = None) -> Diagnostic:
    d = diagnostic
    return Diagnostic(d.code, Severity.WARNING, d.message if message is None else message, d.location, d.notes, d.fix)


def _dialect_note(recipe: V2Recipe, errors: dict[str, list[Diagnostic]], source: Source) -> Diagnostic:
    chosen = dialects.label(recipe.dialect)
    if recipe.matched:
        others = [dialects.label(d) for d in recipe.matched if d != recipe.dialect]
        refused = [
            f"{dialects.label(d)} refuses it ({len(errors[d])} errors, first: {errors[d][0].message})"
            for d in dialects.DIALECTS
            if errors[d]
        ]
        message = f"a v2 recipe, checked as {chosen}'s" + (f" (also valid for {', '.join(others)})" if others else "")
        message += ("; " + "; ".join(refused)) if refused else ""
    else:
        other = next(d for d in dialects.DIALECTS if d != recipe.dialect)
        message = (
            f"a v2 recipe that neither library accepts; the errors shown are {chosen}'s, the closer dialect "
            f"({dialects.label(other)}: {len(errors[other])} errors, first: {errors[other][0].message})"
        )
    return Diagnostic("S227", Severity.INFO, message, source.location(recipe.modifiers[0].key.span))
