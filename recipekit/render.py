"""Render diagnostics for people (text with a source snippet) and machines (JSON)."""

from __future__ import annotations

import json
from collections.abc import Mapping

from recipekit.diagnostics import Diagnostic, Severity
from recipekit.source import Source


def render_text(diagnostics: list[Diagnostic], sources: Mapping[str, Source], color: bool = False) -> str:
    lines: list[str] = []
    for diagnostic in diagnostics:
        lines.extend(_one(diagnostic, sources.get(diagnostic.location.path), color))
    return "\n".join(lines) + ("\n" if lines else "")


_SNIPPET_WIDTH = 120
_COLORS = {Severity.ERROR: "\x1b[1;31m", Severity.WARNING: "\x1b[1;33m", Severity.INFO: "\x1b[1;36m"}


def _one(diagnostic: Diagnostic, source: Source | None, color: bool) -> list[str]:
    loc = diagnostic.location
    severity = diagnostic.severity.value
    if color:
        severity = f"{_COLORS[diagnostic.severity]}{severity}\x1b[0m"
    lines = [f"{loc.path}:{loc.line}:{loc.column}: {severity}: {diagnostic.code} {diagnostic.message}"]
    if source is not None and source.text:
        text = source.line_text(loc.line).replace("\t", " ")
        end = loc.end_column if loc.end_line == loc.line else len(text) + 1
        column = loc.column
        if len(text) > _SNIPPET_WIDTH:
            # Show a window around the caret: a minified line can be megabytes long.
            start = max(0, column - 1 - _SNIPPET_WIDTH // 2)
            text = ("…" if start else "") + text[start : start + _SNIPPET_WIDTH] + "…"
            shift = start - (1 if start else 0)
            column, end = column - shift, min(end - shift, len(text))
        marker = "^" + "~" * max(0, min(end, len(text) + 1) - column - 1)
        gutter = " " * len(str(loc.line))
        lines += [f" {gutter} |", f" {loc.line} | {text}", f" {gutter} | {' ' * (column - 1)}{marker}"]
    for note in diagnostic.notes:
        where = f"{note.location.path}:{note.location.line}:{note.location.column}: " if note.location else ""
        lines.append(f"  = note: {where}{note.message}")
    return lines


def render_json(diagnostics: list[Diagnostic]) -> str:
    return json.dumps([d.to_json() for d in diagnostics], indent=2, ensure_ascii=False) + "\n"


def summary(diagnostics: list[Diagnostic], files: int) -> str:
    counts = {severity: 0 for severity in Severity}
    for diagnostic in diagnostics:
        counts[diagnostic.severity] += 1
    noun = "file" if files == 1 else "files"
    if not diagnostics:
        return f"Checked {files} {noun}: no problems.\n"
    parts = [f"{n} {severity.value}{'s' if n != 1 else ''}" for severity, n in counts.items() if n]
    return f"Checked {files} {noun}: {', '.join(parts)}.\n"
