"""The one diagnostic type shared by every stage, and the code registry.

Codes are grouped by the stage that reports them, never by severity:
``P1xx`` parsing (bytes, front matter, YAML, expressions), ``S2xx`` structure
and schema, ``L3xx`` lint rules, ``C4xx`` compilation.  Every code is declared
once here, with its default severity and a one-line summary, so that the docs
page listing them is generated from this table.
"""

from __future__ import annotations

import enum
from typing import Final

from recipekit.record import Record


class Severity(enum.Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return {"error": 0, "warning": 1, "info": 2}[self.value]


class Location(Record):
    """A resolved position: 1-based line and column, exclusive end column."""

    __slots__ = ("path", "line", "column", "end_line", "end_column")

    def __init__(self, path: str, line: int, column: int, end_line: int, end_column: int) -> None:
        self.path: Final = path
        self.line: Final = line
        self.column: Final = column
        self.end_line: Final = end_line
        self.end_column: Final = end_column


class Note(Record):
    """A related position that helps explain a diagnostic."""

    __slots__ = ("message", "location")

    def __init__(self, message: str, location: Location | None = None) -> None:
        self.message: Final = message
        self.location: Final = location


class Edit(Record):
    """Replace ``[start, end)`` (offsets into the file's text) with ``text``."""

    __slots__ = ("start", "end", "text", "location")

    def __init__(self, start: int, end: int, text: str, location: Location) -> None:
        self.start: Final = start
        self.end: Final = end
        self.text: Final = text
        self.location: Final = location


class Fix(Record):
    __slots__ = ("message", "edits", "applicability")

    def __init__(self, message: str, edits: tuple[Edit, ...], applicability: str = "safe") -> None:
        self.message: Final = message
        self.edits: Final = edits
        #: "safe" fixes never change what the recipe means to SparseML; --fix applies only those.
        self.applicability: Final = applicability


class Diagnostic(Record):
    __slots__ = ("code", "severity", "message", "location", "notes", "fix", "name")

    def __init__(
        self,
        code: str,
        severity: Severity,
        message: str,
        location: Location,
        notes: tuple[Note, ...] = (),
        fix: Fix | None = None,
        name: str | None = None,
    ) -> None:
        """``name`` is the code's kebab-case name: looked up in :data:`CODES` unless given (a lint rule's is)."""
        self.code: Final = code
        self.severity: Final = severity
        self.message: Final = message
        self.location: Final = location
        self.notes: Final = notes
        self.fix: Final = fix
        self.name: Final = name if name is not None else CODES[code].name

    @property
    def sort_key(self) -> tuple[str, int, int, str]:
        loc = self.location
        return (loc.path, loc.line, loc.column, self.code)

    def to_json(self) -> dict[str, object]:
        loc = self.location
        return {
            "path": loc.path,
            "line": loc.line,
            "column": loc.column,
            "end_line": loc.end_line,
            "end_column": loc.end_column,
            "code": self.code,
            "name": self.name,
            "severity": self.severity.value,
            "message": self.message,
            "fix": None
            if self.fix is None
            else {
                "message": self.fix.message,
                "applicability": self.fix.applicability,
                "edits": [
                    {
                        "content": edit.text,
                        "line": edit.location.line,
                        "column": edit.location.column,
                        "end_line": edit.location.end_line,
                        "end_column": edit.location.end_column,
                    }
                    for edit in self.fix.edits
                ],
            },
            "notes": [
                {
                    "message": note.message,
                    **(
                        {
                            "path": note.location.path,
                            "line": note.location.line,
                            "column": note.location.column,
                            "end_line": note.location.end_line,
                            "end_column": note.location.end_column,
                        }
                        if note.location
                        else {}
                    ),
                }
                for note in self.notes
            ],
        }


class Code(Record):
    __slots__ = ("code", "name", "severity", "summary")

    def __init__(self, code: str, name: str, severity: Severity, summary: str) -> None:
        self.code: Final = code
        self.name: Final = name
        self.severity: Final = severity
        self.summary: Final = summary


_E, _W, _I = Severity.ERROR, Severity.WARNING, Severity.INFO

_TABLE = [
    # -- P1xx: bytes, front matter, YAML, expressions -----------------------
    Code("P100", "unreadable-file", _E, "The file cannot be read, or its extension is not a recipe's."),
    Code("P101", "yaml-syntax", _E, "The YAML is malformed."),
    Code("P102", "file-too-large", _E, "The file exceeds the size limit."),
    Code("P103", "invalid-utf8", _E, "The file is not valid UTF-8."),
    Code("P104", "nul-byte", _E, "The file contains a NUL byte."),
    Code("P105", "no-front-matter", _E, "A Markdown recipe has no `---` front matter block."),
    Code("P106", "empty-recipe", _E, "The recipe holds no YAML content."),
    Code("P107", "multiple-documents", _E, "The recipe holds more than one YAML document."),
    Code("P108", "undefined-alias", _E, "A YAML alias names an anchor that was never defined."),
    Code("P109", "nesting-too-deep", _E, "YAML collections nest deeper than the limit."),
    Code("P110", "alias-expansion", _E, "Aliases expand to more nodes than the limit (billion laughs)."),
    Code("P111", "duplicate-key", _E, "A mapping defines the same key twice."),
    Code("P112", "python-tag", _E, "A YAML tag asks for a Python object; recipes never construct objects."),
    Code("P113", "unknown-tag", _E, "A YAML tag is not a modifier and not a standard YAML type."),
    Code("P114", "front-matter-cut", _W, "The front matter ends at a `---` inside a line, as SparseML reads it."),
    Code("P115", "complex-key", _E, "A mapping key is not a plain scalar."),
    Code("P116", "bad-merge", _E, "A `<<` merge key does not merge a mapping."),
    Code("P117", "collection-too-long", _E, "A YAML list or mapping holds more items than the limit."),
    Code("P120", "expression-syntax", _E, "An `eval(...)` expression cannot be parsed."),
    Code("P121", "undefined-variable", _E, "An expression uses a name that is not a recipe variable."),
    Code("P122", "expression-type", _E, "An expression applies an operator or function to the wrong type."),
    Code("P123", "expression-limit", _E, "An expression exceeds a size, depth or exponent limit."),
    Code("P124", "expression-math", _E, "An expression divides by zero or overflows."),
    Code("P125", "variable-cycle", _E, "Recipe variables depend on each other in a cycle."),
    Code("P126", "unknown-function", _E, "An expression calls a function outside the whitelist."),
    Code("P127", "unknown-override", _E, "`--var` overrides a variable the recipe does not define."),
    Code("P128", "override-misses-alias", _W, "`--var` changed a variable that this YAML alias copied before overrides applied."),
    # -- S2xx: structure and schema -----------------------------------------
    Code("S200", "no-modifiers", _E, "The recipe has no modifier list."),
    Code("S201", "unknown-modifier", _E, "A tag names no SparseML modifier."),
    Code("S202", "renamed-modifier", _E, "A legacy modifier name that SparseML 1.8 can no longer load."),
    Code("S203", "unknown-parameter", _E, "A modifier parameter that the modifier does not accept."),
    Code("S204", "missing-parameter", _E, "A required modifier parameter is missing."),
    Code("S205", "wrong-type", _E, "A parameter value has the wrong type."),
    Code("S206", "out-of-range", _E, "A parameter value is outside the range SparseML accepts."),
    Code("S207", "invalid-choice", _E, "A parameter value is not one of the accepted choices."),
    Code("S208", "yaml11-string", _E, "A value SparseML's YAML 1.1 loader reads as a string, where it needs a number."),
    Code("S209", "modifier-outside-group", _E, "Modifiers listed under a key whose name lacks `modifiers`."),
    Code("S210", "quantization-mixed-keys", _E, "QuantizationModifier mixes legacy-only and new-only keys."),
    Code("S211", "stage-ignored", _W, "A stage SparseML silently drops because top-level modifier lists exist."),
    Code("S212", "v2-recipe", _W, "Retired: v2 recipes are checked now (S215, S22x, L36x); kept so old suppressions still parse."),
    Code("S213", "modifier-not-mapping", _E, "A modifier's parameters are not a mapping."),
    Code("S214", "misplaced-modifier", _E, "A modifier tag where SparseML cannot load it."),
    Code("S215", "mixed-formats", _E, "A file with both v2 stages and v1 modifier tags: no loader reads it as meant."),
    Code("S220", "v2-unknown-modifier", _E, "A v2 modifier class name the library does not have."),
    Code("S221", "v2-arguments-not-mapping", _E, "A v2 modifier whose arguments are not a mapping."),
    Code("S222", "v2-unknown-argument", _E, "An argument a v2 modifier does not have, which the library refuses."),
    Code("S223", "v2-ignored-argument", _E, "An argument a v2 modifier lacks, which SparseML drops (a warning if another version has it)."),
    Code("S224", "v2-missing-argument", _E, "A required argument of a v2 modifier is missing."),
    Code("S225", "v2-wrong-value", _E, "A v2 modifier argument of the wrong type, choice or range."),
    Code("S226", "v2-unknown-scheme", _E, "A `scheme` that is not one of the library's preset scheme names."),
    Code("S227", "v2-dialect", _I, "Which library's v2 dialect the recipe was checked as (and which refuses it)."),
    # -- L3xx: the lint rules' codes are declared by the rules (recipekit.lint_rules.codes()); the engine's own: --
    Code("L300", "unused-suppression", _W, "A `# recipe-lint: disable=` comment that silences nothing."),
    Code("L399", "fix-reverted", _W, "A `--fix` that would add an error was not applied; the text is left as it was."),
    # -- C4xx: compilation ----------------------------------------------------
    Code("C402", "step-below-one-step", _E, "A StepLR step_size shorter than one optimizer step at this steps_per_epoch."),
    Code("C405", "global-sparsity-mapping", _E, "Global sparsity with several final sparsities."),
    Code("C408", "inverse-cubic-overshoot", _E, "inverse_cubic past an end_epoch that is not on a step: SparseML crashes."),
    Code("C410", "not-executed", _W, "A modifier the plan records but the recipekit runtime does not execute."),
    Code("C411", "bad-steps-per-epoch", _E, "steps_per_epoch must be a positive number."),
    Code("C413", "too-many-updates", _E, "An update_frequency that would list more mask updates than the plan limit."),
    Code("C415", "v2-not-compiled", _E, "A v2 (stage-format) recipe: its one-shot algorithms are outside the runtime's scope."),
    Code("C428", "mfac-page-swap", _E, "M-FAC without Fisher blocks on SparseML's CUDA-only page-swap path; recipekit runs the CPU paths."),
    Code(
        "C430", "mfac-buffer-short", _E, "M-FAC buffering training gradients whose update would have fewer than num_grads: SparseML fails."
    ),
    Code("C429", "mfac-num-grads", _E, "An M-FAC num_grads mapping without 0.0, or with counts that are not positive integers."),
]

#: The front-end's, the compiler's and the lint engine's codes. The lint rules declare their own
#: (``recipekit.lint_rules.codes()`` gives every code); nothing adds to this table at import.
CODES: dict[str, Code] = {code.code: code for code in _TABLE}

#: Codes that were merged into another: a defect SparseML crashed on (recipekit/compiler/refusals.py)
#: or a trap it ran into silently (recipekit/compiler/traps.py) has one code, its lint rule's,
#: reported by `recipe-lint` and by `recipekit compile` alike.
RENUMBERED = {
    "C401": "L301",
    "C403": "L341",
    "C404": "L331",
    "C406": "L302",
    "C407": "L313",
    "C409": "L314",
    "C414": "L321",
    "C420": "L313",
    "C421": "L315",
    "C427": "S208",
    # The training algorithms' silent traps (compiler/traps.py): warnings, under their lint rule's code.
    "C422": "L381",
    "C423": "L382",
    "C424": "L380",
    "C426": "L383",
}


def sorted_diagnostics(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    """Sort by position and drop exact duplicates (a shared alias can repeat one)."""
    unique = dict.fromkeys(diagnostics)
    return sorted(unique, key=lambda d: d.sort_key)


def has_errors(diagnostics: list[Diagnostic]) -> bool:
    return any(d.severity is Severity.ERROR for d in diagnostics)
