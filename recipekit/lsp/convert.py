"""recipekit diagnostics and edits → LSP's, positions in the client's encoding."""

from __future__ import annotations

from lsprotocol import types as lsp

from recipekit.diagnostics import Diagnostic, Location, Severity
from recipekit.lsp.positions import to_units
from recipekit.source import Source

#: Where each code is explained (the generated pages; `recipekit rule CODE` prints the same).
DOCS_URL = "https://github.com/recipekit/recipekit/blob/main/docs/"
SOURCE = "recipe-lint"

_SEVERITY = {
    Severity.ERROR: lsp.DiagnosticSeverity.Error,
    Severity.WARNING: lsp.DiagnosticSeverity.Warning,
    Severity.INFO: lsp.DiagnosticSeverity.Information,
}


def code_url(code: str, rule_codes: frozenset[str]) -> str:
    """A lint rule's section of docs/rules.md; any other code's table in docs/diagnostics.md."""
    return f"{DOCS_URL}rules.md#{code.lower()}" if code in rule_codes else f"{DOCS_URL}diagnostics.md"


def lsp_range(source: Source | None, location: Location, encoding: str) -> lsp.Range:
    if source is None:  # the bytes did not decode: recipekit placed it at the start
        return lsp.Range(lsp.Position(0, 0), lsp.Position(0, 0))
    start = to_units(source, location.line, location.column, encoding)
    end = to_units(source, location.end_line, location.end_column, encoding)
    return lsp.Range(lsp.Position(*start), lsp.Position(*end))


def to_lsp(diagnostic: Diagnostic, source: Source | None, uri: str, encoding: str, rule_codes: frozenset[str]) -> lsp.Diagnostic:
    related = [
        lsp.DiagnosticRelatedInformation(lsp.Location(uri, lsp_range(source, note.location, encoding)), note.message)
        for note in diagnostic.notes
        if note.location is not None
    ]
    # A note without a place is part of the message, as the text report prints it under the diagnostic.
    message = "\n".join([diagnostic.message, *(f"note: {n.message}" for n in diagnostic.notes if n.location is None)])
    return lsp.Diagnostic(
        range=lsp_range(source, diagnostic.location, encoding),
        message=message,
        severity=_SEVERITY[diagnostic.severity],
        code=diagnostic.code,
        code_description=lsp.CodeDescription(code_url(diagnostic.code, rule_codes)),
        source=SOURCE,
        related_information=related or None,
        data={"name": diagnostic.name, "fixable": diagnostic.fix is not None},
    )


def text_edits(diagnostic: Diagnostic, source: Source, encoding: str) -> list[lsp.TextEdit]:
    """The diagnostic's fix as LSP edits."""
    assert diagnostic.fix is not None
    return [lsp.TextEdit(lsp_range(source, edit.location, encoding), edit.text) for edit in diagnostic.fix.edits]
