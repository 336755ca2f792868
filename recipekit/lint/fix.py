"""`recipe-lint --fix`: apply safe fixes as text edits on exact spans, then re-lint.

Never re-dumps the YAML: comments, anchors, quoting and layout stay as written.
Overlapping edits are deferred to the next round; rounds stop when nothing is
left to fix (or after a bounded number of rounds).
"""

from __future__ import annotations

from pathlib import Path

from recipekit.atomic import write_atomically
from recipekit.diagnostics import Diagnostic, Edit

MAX_ROUNDS = 10


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


def write_fixed(path: Path, text: str) -> None:
    bom = path.read_bytes().startswith(b"\xef\xbb\xbf")
    with_bom = ("\ufeff" if bom else "") + text
    write_atomically(path, with_bom)
