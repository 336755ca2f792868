"""`# recipe-lint: disable=CODE` comments.

A comment at the end of a line silences that line; a comment on a line of its
own silences the next line. ``# recipe-lint: disable-file=CODE`` silences the
whole file. Each entry is what the configuration's ``select``/``ignore`` accept:
a code (``L330``), a code prefix (``L33``), a rule name (``qat-during-ramp``) or
``ALL``; several are separated by commas, and text after them (``-- why``) is a
free comment. A suppression that silences nothing, or names no code, is itself
reported (L300), so stale and misspelled ones do not pile up.
"""

from __future__ import annotations

import re

from recipekit.diagnostics import Diagnostic
from recipekit.lint.config import selects
from recipekit.source import Source, Span

UNUSED_SUPPRESSION = "L300"
_ENTRY = r"[A-Za-z][A-Za-z0-9_-]*"
_CODE_OR_ALL = re.compile(r"[A-Za-z][0-9]*|all", re.IGNORECASE)
_COMMENT = re.compile(rf"#\s*recipe-lint:\s*(disable|disable-file)\s*=\s*({_ENTRY}(?:\s*,\s*{_ENTRY})*)")


class Suppression:
    """One `# recipe-lint: disable...` comment, and which of its codes silenced something."""

    __slots__ = ("codes", "span", "line", "used")

    def __init__(self, codes: set[str], span: Span, line: int | None) -> None:
        self.codes = codes
        self.span = span
        #: The line it silences; None for file-wide suppressions.
        self.line = line
        self.used: set[str] = set()


def find_suppressions(source: Source) -> list[Suppression]:
    found: list[Suppression] = []
    for match in _COMMENT.finditer(source.text):
        line, column = source.line_col(match.start())
        # Codes are case-insensitive (shown upper-case); rule names are kebab-case (shown lower-case).
        codes = {_canonical(c.strip()) for c in match.group(2).split(",") if c.strip()}
        own_line = not source.line_text(line)[: column - 1].strip()
        target = None if match.group(1) == "disable-file" else (line + 1 if own_line else line)
        found.append(Suppression(codes, Span(match.start(), match.end()), target))
    return found


def _canonical(entry: str) -> str:
    return entry.upper() if _CODE_OR_ALL.fullmatch(entry) else entry.lower()


def apply_suppressions(diagnostics: list[Diagnostic], source: Source) -> list[Diagnostic]:
    suppressions = find_suppressions(source)
    if not suppressions:
        return diagnostics
    kept: list[Diagnostic] = []
    for diagnostic in diagnostics:
        entry = None
        for suppression in suppressions:
            if suppression.line is None or suppression.line == diagnostic.location.line:
                entry = next((e for e in suppression.codes if selects(e, diagnostic.code, diagnostic.name)), None)
                if entry is not None:
                    suppression.used.add(entry)
                    break
        if entry is None:
            kept.append(diagnostic)
    for suppression in suppressions:
        for code in sorted(suppression.codes - suppression.used):
            message = f"suppression of {code} silences nothing here; remove it"
            if not _names_something(code):
                from recipekit.lint_rules import codes
                from recipekit.suggest import did_you_mean

                hint = did_you_mean(code, [info.name for info in codes().values()]) if "-" in code else ""
                message = f"suppression of {code} names no rule or code; correct or remove it{hint}"
            kept.append(source.diag(UNUSED_SUPPRESSION, suppression.span, message))
    return kept


def _names_something(entry: str) -> bool:
    """Whether a suppression entry names at least one code (only asked of entries that silenced nothing)."""
    from recipekit.lint_rules import codes  # rare: a stale or misspelled suppression

    return any(selects(entry, code, info.name) for code, info in codes().items())
