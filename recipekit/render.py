"""Render diagnostics for people (text with a source snippet) and machines (concise, GitHub, SARIF).

JSON items are written one by one by recipekit.report.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from recipekit.diagnostics import Code, Diagnostic, Severity
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


def summary(counts: Mapping[Severity, int], files: int) -> str:
    """The last line of a text report: files checked and problems by severity."""
    noun = "file" if files == 1 else "files"
    if not any(counts.values()):
        return f"Checked {files} {noun}: no problems.\n"
    parts = [f"{n} {severity.value}{'s' if n != 1 else ''}" for severity, n in counts.items() if n]
    return f"Checked {files} {noun}: {', '.join(parts)}.\n"


def render_concise(diagnostics: list[Diagnostic]) -> str:
    """ruff/flake8-compatible lines (`%f:%l:%c: %m`); `[*]` marks a fixable problem."""
    lines = []
    for d in diagnostics:
        loc = d.location
        fixable = " [*]" if d.fix is not None else ""
        lines.append(f"{loc.path}:{loc.line}:{loc.column}: {d.code}{fixable} {d.message}")
    return "\n".join(lines) + ("\n" if lines else "")


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render_github(diagnostics: list[Diagnostic]) -> str:
    """GitHub Actions workflow commands, grouped by file, errors first."""
    commands = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}
    lines: list[str] = []
    by_file: dict[str, list[Diagnostic]] = {}
    for d in diagnostics:
        by_file.setdefault(d.location.path, []).append(d)
    for path, items in by_file.items():
        lines.append(f"::group::{path}")
        for d in sorted(items, key=lambda d: (d.severity.rank, d.location.line, d.location.column)):
            loc = d.location
            where = f"file={_escape_property(path)},line={loc.line}"
            if loc.line == loc.end_line:
                where += f",col={loc.column},endLine={loc.end_line},endColumn={loc.end_column}"
            else:
                where += f",endLine={loc.end_line}"
            title = _escape_property(f"recipe-lint ({d.code})")
            lines.append(f"::{commands[d.severity]} {where},title={title}::{_escape_data(f'{d.code} {d.message}')}")
        lines.append("::endgroup::")
    lines.extend(render_concise(diagnostics).splitlines())
    return "\n".join(lines) + ("\n" if lines else "")


def render_sarif(diagnostics: list[Diagnostic], codes: Mapping[str, Code], root: str | None = None) -> str:
    """SARIF 2.1.0 as GitHub code scanning reads it: rule metadata (from ``codes``), related locations, fixes."""
    import os

    from recipekit.version import VERSION

    def location(path: str) -> dict[str, str]:
        # Relative to the project root (%SRCROOT%), wherever recipe-lint ran; a file outside it keeps its absolute URI.
        if root is None:
            return {"uri": path.replace(os.sep, "/"), "uriBaseId": "%SRCROOT%"}
        absolute = os.path.abspath(path)
        relative = os.path.relpath(absolute, root)
        if relative == os.pardir or relative.startswith(os.pardir + os.sep):
            import pathlib

            return {"uri": pathlib.Path(absolute).as_uri()}
        return {"uri": relative.replace(os.sep, "/"), "uriBaseId": "%SRCROOT%"}

    def region(loc: Any) -> dict[str, int]:
        return {
            "startLine": loc.line,
            "startColumn": loc.column,
            "endLine": loc.end_line,
            "endColumn": max(loc.end_column, loc.column + 1) if loc.line == loc.end_line else loc.end_column,
        }

    levels = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}
    used = sorted({d.code for d in diagnostics})
    rules = []
    for code in used:
        info = codes[code]
        rules.append(
            {
                "id": code,
                "name": info.name,
                "shortDescription": {"text": info.summary},
                "fullDescription": {"text": info.summary},
                "help": {"text": f"See `recipekit rule {code}`.", "markdown": f"See `recipekit rule {code}` and docs/rules.md."},
                "defaultConfiguration": {"level": levels[info.severity]},
                "properties": {"tags": ["recipe"], "problem.severity": levels[info.severity]},
            }
        )
    results = []
    for d in sorted(diagnostics, key=lambda d: d.severity.rank)[:5000]:
        result: dict[str, Any] = {
            "ruleId": d.code,
            "ruleIndex": used.index(d.code),
            "level": levels[d.severity],
            "message": {"text": d.message},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": location(d.location.path),
                        "region": region(d.location),
                    }
                }
            ],
        }
        related = [
            {
                "id": i,
                "message": {"text": note.message},
                "physicalLocation": {
                    "artifactLocation": location(note.location.path),
                    "region": region(note.location),
                },
            }
            for i, note in enumerate(d.notes)
            if note.location is not None
        ]
        if related:
            result["relatedLocations"] = related
        if d.fix is not None:
            result["fixes"] = [
                {
                    "description": {"text": d.fix.message},
                    "artifactChanges": [
                        {
                            "artifactLocation": location(d.location.path),
                            "replacements": [
                                {"deletedRegion": region(e.location), "insertedContent": {"text": e.text}} for e in d.fix.edits
                            ],
                        }
                    ],
                }
            ]
        results.append(result)
    document = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "recipe-lint",
                        "version": VERSION,
                        "informationUri": "https://github.com/recipekit/recipekit",
                        "rules": rules,
                    }
                },
                "automationDetails": {"id": "recipe-lint/"},
                "columnKind": "unicodeCodePoints",
                "results": results,
            }
        ],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
