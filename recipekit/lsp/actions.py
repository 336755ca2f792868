"""Code actions: each `--fix` fix as a quick fix, fix-all, and "disable CODE for this line"."""

from __future__ import annotations

import re

from lsprotocol import types as lsp

from recipekit.diagnostics import Diagnostic
from recipekit.lsp.analysis import Linted, fix_all
from recipekit.lsp.capabilities import FIX_ALL_KIND
from recipekit.lsp.convert import lsp_range, text_edits, to_lsp
from recipekit.lsp.positions import units

#: The comment the linter reads (lint/suppressions.py); a trailing one silences its own line.
_TRAILING = re.compile(r"#\s*recipe-lint:\s*disable\s*=\s*([A-Za-z0-9_, ]+)$")
_UNSUPPRESSIBLE = frozenset({"L300"})  # silencing "this suppression is unused" would hide nothing useful


def _overlaps(a: lsp.Range, b: lsp.Range) -> bool:
    """By lines: a cursor anywhere on a diagnostic's line offers its actions (as editors' lightbulbs do)."""
    return a.start.line <= b.end.line and b.start.line <= a.end.line


def code_actions(
    linted: Linted, uri: str, wanted: lsp.Range, only: list[str] | None, encoding: str, rules: frozenset[str]
) -> list[lsp.CodeAction]:
    source = linted.source
    actions: list[lsp.CodeAction] = []
    want_quickfix = only is None or any(lsp.CodeActionKind.QuickFix.value.startswith(kind) for kind in only)
    want_fix_all = only is None or any(FIX_ALL_KIND.startswith(kind) or kind == lsp.CodeActionKind.SourceFixAll.value for kind in only)
    if source is None:
        return actions
    if want_quickfix:
        for diagnostic in linted.diagnostics:
            shown = to_lsp(diagnostic, source, uri, encoding, rules)
            if not _overlaps(shown.range, wanted):
                continue
            if diagnostic.fix is not None:
                actions.append(
                    lsp.CodeAction(
                        title=f"Fix {diagnostic.code}: {diagnostic.fix.message}",
                        kind=lsp.CodeActionKind.QuickFix,
                        diagnostics=[shown],
                        is_preferred=diagnostic.fix.applicability == "safe",
                        edit=lsp.WorkspaceEdit(changes={uri: text_edits(diagnostic, source, encoding)}),
                    )
                )
            disable = _disable(linted, diagnostic, encoding)
            if disable is not None:
                actions.append(
                    lsp.CodeAction(
                        title=f"Disable {diagnostic.code} for this line",
                        kind=lsp.CodeActionKind.QuickFix,
                        diagnostics=[shown],
                        edit=lsp.WorkspaceEdit(changes={uri: [disable]}),
                    )
                )
    if want_fix_all and any(d.fix is not None and d.fix.applicability == "safe" for d in linted.diagnostics):
        fixed = fix_all(linted)
        if fixed is not None:
            actions.append(
                lsp.CodeAction(
                    title="Fix all recipe-lint problems",
                    kind=FIX_ALL_KIND,
                    edit=lsp.WorkspaceEdit(changes={uri: [whole_text_edit(linted.text, fixed, encoding)]}),
                )
            )
    return actions


def whole_text_edit(old: str, new: str, encoding: str) -> lsp.TextEdit:
    """One edit replacing the whole buffer (the fix loop's result, as `--fix` writes the file once)."""
    lines = re.split(r"\r\n|\n|\r", old)
    end = lsp.Position(len(lines) - 1, units(lines[-1], encoding))
    return lsp.TextEdit(lsp.Range(lsp.Position(0, 0), end), new)


def _disable(linted: Linted, diagnostic: Diagnostic, encoding: str) -> lsp.TextEdit | None:
    """Append ``# recipe-lint: disable=CODE`` to the diagnostic's line, or the code to such a comment there."""
    source = linted.source
    if source is None or diagnostic.code in _UNSUPPRESSIBLE or diagnostic.code.startswith("P10"):
        # Unreadable bytes or YAML: no comment makes SparseML read the file.
        return None
    line = diagnostic.location.line
    text = source.line_text(line)
    existing = _TRAILING.search(text.rstrip())
    end = lsp.Position(line - 1, units(text, encoding))
    if existing is not None:
        codes = [c.strip() for c in existing.group(1).split(",") if c.strip()]
        if diagnostic.code in codes:
            return None
        start = lsp.Position(line - 1, units(text[: existing.start(1)], encoding))
        stop = lsp.Position(line - 1, units(text[: existing.end(1)], encoding))
        return lsp.TextEdit(lsp.Range(start, stop), ", ".join([*codes, diagnostic.code]))
    return lsp.TextEdit(lsp.Range(end, end), f"  # recipe-lint: disable={diagnostic.code}")


__all__ = ["FIX_ALL_KIND", "code_actions", "lsp_range", "whole_text_edit"]
