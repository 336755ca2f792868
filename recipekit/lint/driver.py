"""The multi-file lint driver: which files, the ``--fix`` loop, and the streaming report.

The command line parses arguments and calls :func:`lint_paths`; everything a
`recipe-lint` run does between "these paths" and "these counts" lives here
(ruff's split between its CLI and ``linter.rs``).
"""

from __future__ import annotations

import os
from typing import Any, TextIO

from recipekit.lint.config import LintConfig
from recipekit.lint.report import ReportWriter
from recipekit.source import snippet_source


class LintRun:
    """What one `recipe-lint` invocation checks and how it reports."""

    __slots__ = ("config", "variables", "params", "output_format", "fix", "color", "excludes", "only_recipes")

    def __init__(
        self,
        config: LintConfig,
        variables: dict[str, Any],
        params: list[dict[str, Any]] | None,
        output_format: str,
        fix: bool = False,
        color: bool = False,
        excludes: tuple[str, ...] = (),
        only_recipes: bool = False,
    ) -> None:
        self.config = config
        self.variables = variables
        self.params = params
        self.output_format = output_format
        self.fix = fix
        self.color = color
        #: --exclude globs for directory walks (a file named on the command line is always checked).
        self.excludes = excludes
        #: --only-recipes: named files that do not look like recipes are skipped as a walk skips them.
        self.only_recipes = only_recipes


def lint_paths(paths: tuple[str | os.PathLike[str], ...], run: LintRun, stream: TextIO) -> ReportWriter:
    """Lint every file, writing the report to ``stream`` file by file; returns the writer's counts."""
    from recipekit.lint.linter import lint_file

    report = ReportWriter(stream, run.output_format, color=run.color, sarif_root=run.config.root())
    fixed = 0
    walk = None
    if run.only_recipes or any(os.path.isdir(path) for path in paths):
        from pathlib import Path  # like the walker's patterns (~1 ms): only directory walks pay

        from recipekit.lint.discovery import Walk

        walk = Walk(run.excludes, run.only_recipes)
        paths = tuple(Path(path) for path in paths)
    for path in walk.paths(paths) if walk is not None else paths:  # type: ignore[arg-type]
        source, found = lint_file(path, run.config, run.variables, run.params)
        if run.fix and source is not None:
            source, found, fixed_here = _fix(path, source, found, run)
            fixed += fixed_here
        if found and source is None:
            source = snippet_source(path)
        report.add_file(found, source)
    report.finish(fixed, walk.skipped if walk is not None else 0, run.only_recipes)
    return report


def _fix(path: str | os.PathLike[str], source: Any, found: list[Any], run: LintRun) -> tuple[Any, list[Any], int]:
    from recipekit.lint.fix import fix_until_stable, write_fixed
    from recipekit.lint.linter import lint_text

    original = source.text
    outcome = fix_until_stable(source, found, lambda text: lint_text(path, text, source.bom, run.config, run.variables, run.params))
    if outcome.source is not None and outcome.source.text != original:
        write_fixed(path, outcome.source)
    return outcome.source, outcome.diagnostics + outcome.reverted, outcome.fixed


def lint_stdin(name: str, data: bytes, run: LintRun, stream: TextIO) -> ReportWriter:
    """`recipe-lint -`: standard input's bytes, linted as the file ``name`` (``--stdin-filename``), never written."""
    from recipekit.lint.linter import lint_source
    from recipekit.source import RECIPE_SUFFIXES, Source, Span, source_from_bytes

    report = ReportWriter(stream, run.output_format, color=run.color, sarif_root=os.getcwd())
    suffix = os.path.splitext(name)[1].lower()
    if name != "<stdin>" and suffix not in RECIPE_SUFFIXES:
        message = f"unsupported file extension {suffix or '(none)'!r} in --stdin-filename; recipes are .yaml, .yml or .md files"
        source, found = None, [Source(name, "").diag("P100", Span(0, 0), message)]
    else:
        source, found = source_from_bytes(data, name, markdown=suffix == ".md")
    source, found = lint_source(source, found, name, run.config, run.variables, run.params)
    if source is None:
        source = Source(name, data.decode("utf-8", errors="replace"))
    report.add_file(found, source)
    report.finish()
    return report
