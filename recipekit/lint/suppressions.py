"""`# recipe-lint: disable=CODE` comments.

A comment at the end of a line silences that line; a comment on a line of its
own silences the next line. ``# recipe-lint: disable-file=CODE`` silences the
whole file. A suppression that silences nothing is itself reported (L300), so
stale ones do not pile up.
"""

from __future__ import annotations

import re

from recipekit.diagnostics import Diagnostic
from recipekit.source import Source, Span

UNUSED_SUPPRESSION = "L300"
_COMMENT = re.compile(r"#\s*recipe-lint:\s*(disable|disable-file)\s*=\s*([A-Za-z0-9_, ]+)")


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
        codes = {c.strip().upper() for c in match.group(2).split(",") if c.strip()}
        own_line = not source.line_text(line)[: column - 1].strip()
        target = None if match.group(1) == "disable-file" else (line + 1 if own_line else line)
        found.append(Suppression(codes, Span(match.start(), match.end()), target))
    return found


def apply_suppressions(diagnostics: list[Diagnostic], source: Source) -> list[Diagnostic]:
    suppressions = find_suppressions(source)
    if not suppressions:
        return diagnostics
    kept: list[Diagnostic] = []
    for diagnostic in diagnostics:
        silencer = next(
            (s for s in suppressions if diagnostic.code in s.codes and (s.line is None or s.line == diagnostic.location.line)),
            None,
        )
        if silencer is None:
            kept.append(diagnostic)
        else:
            silencer.used.add(diagnostic.code)
    for suppression in suppressions:
        for code in sorted(suppression.codes - suppression.used):
            message = f"suppression of {code} silences nothing here; remove it"
            kept.append(source.diag(UNUSED_SUPPRESSION, suppression.span, message))
    return kept
