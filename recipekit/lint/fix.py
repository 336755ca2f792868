"""`recipe-lint --fix`: apply safe fixes as text edits on exact spans, in memory, until stable.

Never re-dumps the YAML: comments, anchors, quoting and layout stay as written.
As ruff's ``lint_fix`` does, every round edits the text in memory and lints the
result again; the file is written once, atomically, at the end.  A round that
would add an error is undone and retried one fix at a time, and a fix that adds
an error on its own is dropped and reported (L399), so ``--fix`` never makes a
recipe worse.  Overlapping edits wait for the next round.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable

from recipekit.atomic import write_atomically
from recipekit.diagnostics import Diagnostic, Edit, Severity
from recipekit.source import Source

# Each round lints the whole file again; ruff caps the same loop at 100.
MAX_ROUNDS = 100

Relint = Callable[[str], "tuple[Source | None, list[Diagnostic]]"]


def apply_edits(text: str, diagnostics: list[Diagnostic]) -> tuple[str, int]:
    """Apply every safe fix whose edits do not overlap an earlier one; return the text and count."""
    chosen: list[Edit] = []
    fixed = 0
    for diagnostic in diagnostics:
        fix = diagnostic.fix
        if fix is None or fix.applicability != "safe":
            continue
        if any((e.start < c.end and c.start < e.end) or (e.start == c.start and e.end == c.end) for e in fix.edits for c in chosen):
            continue
        chosen.extend(fix.edits)
        fixed += 1
    for edit in sorted(chosen, key=lambda e: e.start, reverse=True):
        text = text[: edit.start] + edit.text + text[edit.end :]
    return text, fixed


def _errors(diagnostics: list[Diagnostic]) -> Counter[str]:
    return Counter(d.code for d in diagnostics if d.severity is Severity.ERROR)


def _adds_error(before: list[Diagnostic], after: list[Diagnostic]) -> str | None:
    """The code of an error that ``after`` has more of than ``before``, if any."""
    grown = _errors(after) - _errors(before)
    return min(grown) if grown else None


class FixOutcome:
    """What the fix loop ended with: the final text's lint result, and what it did."""

    __slots__ = ("source", "diagnostics", "fixed", "reverted")

    def __init__(self, source: Source | None, diagnostics: list[Diagnostic], fixed: int, reverted: list[Diagnostic]) -> None:
        self.source = source
        self.diagnostics = diagnostics
        self.fixed = fixed
        self.reverted = reverted


def fix_until_stable(source: Source, found: list[Diagnostic], relint: Relint) -> FixOutcome:
    """Fix ``source`` in memory; ``relint(text)`` lints a candidate text of the same file."""
    fixed = 0
    reverted: list[Diagnostic] = []
    dropped: set[tuple[str, int, int]] = set()
    for _ in range(MAX_ROUNDS):
        fixable = [d for d in found if d.fix is not None and d.fix.applicability == "safe" and _key(d) not in dropped]
        text, applied = apply_edits(source.text, fixable)
        if not applied:
            break
        candidate, candidate_found = relint(text)
        if candidate is not None and _adds_error(found, candidate_found) is None:
            source, found, fixed = candidate, candidate_found, fixed + applied
            continue
        # The round made things worse: find the fixes that do, one at a time, and drop them.
        progressed = False
        for diagnostic in fixable:
            text, applied = apply_edits(source.text, [diagnostic])
            candidate, candidate_found = relint(text)
            added = "P100" if candidate is None else _adds_error(found, candidate_found)
            if added is None and candidate is not None:
                source, found, fixed, progressed = candidate, candidate_found, fixed + applied, True
                break
            dropped.add(_key(diagnostic))
            reverted.append(_reverted(diagnostic, added or "P100"))
        if not progressed:
            break
    return FixOutcome(source, found, fixed, reverted)


def _key(diagnostic: Diagnostic) -> tuple[str, int, int]:
    return (diagnostic.code, diagnostic.location.line, diagnostic.location.column)


def _reverted(diagnostic: Diagnostic, added: str) -> Diagnostic:
    title = diagnostic.fix.message if diagnostic.fix is not None else diagnostic.code
    message = (
        f"the fix for {diagnostic.code} ({title}) was not applied: it would add a {added} error; "
        "the text is left as it was, fix this one by hand"
    )
    return Diagnostic("L399", Severity.WARNING, message, diagnostic.location)


def write_fixed(path: str | os.PathLike[str], source: Source) -> None:
    """Write the fixed text once, atomically, keeping a byte-order mark the file had."""
    write_atomically(path, ("\ufeff" if source.bom else "") + source.text)
