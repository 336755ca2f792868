"""A lint report written file by file, so linting 10,000 recipes keeps memory flat.

Line formats (text, concise, github) and JSON are written as each file is checked and nothing of
a file is kept after it; only the counts per severity stay. SARIF is one document whose rule table
depends on every result, so it keeps its results, capped at SARIF_MAX_RESULTS (most severe first,
as GitHub code scanning reads at most that many per run).
"""

from __future__ import annotations

import json
from typing import TextIO

from recipekit import render
from recipekit.diagnostics import Diagnostic, Severity, sorted_diagnostics
from recipekit.source import Source

SARIF_MAX_RESULTS = 5000


class ReportWriter:
    def __init__(self, stream: TextIO, output_format: str, color: bool = False, sarif_root: str | None = None) -> None:
        self.stream = stream
        self.output_format = output_format
        self.color = color
        self.sarif_root = sarif_root
        self.counts = dict.fromkeys(Severity, 0)
        self.files = 0
        self._json_items = 0
        # SARIF: kept per severity, each list capped, so the most severe results survive the cap.
        self._sarif: dict[Severity, list[Diagnostic]] = {severity: [] for severity in Severity}

    def add_file(self, diagnostics: list[Diagnostic], source: Source | None) -> None:
        """Write one file's diagnostics (sorted by position) and forget them."""
        self.files += 1
        found = sorted_diagnostics(diagnostics)
        for diagnostic in found:
            self.counts[diagnostic.severity] += 1
        if not found:
            return
        if self.output_format == "json":
            for diagnostic in found:
                item = json.dumps(diagnostic.to_json(), indent=2, ensure_ascii=False).replace("\n", "\n  ")
                self.stream.write(("[\n  " if self._json_items == 0 else ",\n  ") + item)
                self._json_items += 1
        elif self.output_format == "sarif":
            for diagnostic in found:
                kept = self._sarif[diagnostic.severity]
                if len(kept) < SARIF_MAX_RESULTS:
                    kept.append(diagnostic)
        elif self.output_format == "github":
            self.stream.write(render.render_github(found))
        elif self.output_format == "concise":
            self.stream.write(render.render_concise(found))
        else:
            sources = {source.path: source} if source is not None else {}
            self.stream.write(render.render_text(found, sources, color=self.color))

    def finish(self, fixed: int = 0, skipped: int = 0, only_recipes: bool = False) -> None:
        if self.output_format == "json":
            self.stream.write("\n]\n" if self._json_items else "[]\n")
        elif self.output_format == "sarif":
            kept = [d for severity in Severity for d in self._sarif[severity]]
            from recipekit.lint_rules import codes

            self.stream.write(render.render_sarif(kept, codes(), self.sarif_root))
        elif self.output_format in ("text", "concise"):
            if fixed:
                self.stream.write(f"Fixed {fixed} problem{'s' if fixed != 1 else ''}.\n")
            self.stream.write(render.summary(self.counts, self.files))
            if skipped:
                one = "file that is not a recipe (no modifier in it)"
                they = one if skipped == 1 else "files that are not recipes (no modifier in them)"
                anyway = "without --only-recipes, name a file" if only_recipes else "name a file"
                self.stream.write(f"Skipped {skipped} {they}; {anyway} to check it anyway.\n")

    def any_of(self, severities: set[Severity]) -> bool:
        return any(self.counts[severity] for severity in severities)
