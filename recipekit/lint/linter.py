"""The lint engine: run every enabled rule on a recipe and stamp the findings.

Rules yield :class:`~recipekit.lint_rules._context.Finding` (a span and a message); the
engine gives each its rule's code and configured severity, converts spans to
positions and fixes to edits, and applies configuration and suppressions to
every diagnostic of the file, the front-end's included.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from recipekit.compiler import REPRODUCED, load_source
from recipekit.diagnostics import Diagnostic, Edit, Fix, Severity, sorted_diagnostics
from recipekit.lint.config import LintConfig
from recipekit.lint.suppressions import apply_suppressions
from recipekit.lint_rules import rules_for
from recipekit.lint_rules._context import Finding, LintContext
from recipekit.source import Source

if TYPE_CHECKING:
    from recipekit.lint_rules import Rule


def run_rules(ctx: LintContext, config: LintConfig) -> list[Diagnostic]:
    diagnostics: list[Diagnostic] = []
    path = ctx.source.path
    # A recipe the v2 front-end read has no v1 modifiers (a v1 one without any does not load).
    runnable = rules_for(params=ctx.params is not None, steps=ctx.steps_per_epoch is not None, v2=not ctx.recipe.modifiers)
    for rule in runnable:
        if not config.enabled(rule.CODE, path, rule.NAME):
            continue
        for finding in rule.check(ctx):
            diagnostics.append(_stamp(ctx.source, rule, finding))
    return diagnostics


def _stamp(source: Source, rule: Rule, finding: Finding) -> Diagnostic:
    notes = tuple(source.note(message, span) for message, span in finding.related)
    fix = None
    if finding.fix is not None:
        message, edits = finding.fix
        fix = Fix(message, tuple(Edit(e.span.start, e.span.end, e.text, source.location(e.span)) for e in edits))
    return Diagnostic(rule.CODE, rule.SEVERITY, finding.message, source.location(finding.span), notes, fix, rule.NAME)


def configure(diagnostics: list[Diagnostic], config: LintConfig, path: str) -> list[Diagnostic]:
    """Drop disabled codes and apply severity overrides."""
    result = []
    for diagnostic in diagnostics:
        if not config.enabled(diagnostic.code, path, diagnostic.name):
            continue
        severity = config.severity.get(diagnostic.code)
        if severity is not None and severity is not diagnostic.severity:
            d = diagnostic
            result.append(Diagnostic(d.code, severity, d.message, d.location, d.notes, d.fix, d.name))
        else:
            result.append(diagnostic)
    return result


def lint_file(
    path: str | os.PathLike[str], config: LintConfig, variables: dict[str, Any] | None = None, params: list[dict[str, Any]] | None = None
) -> tuple[Source | None, list[Diagnostic]]:
    """Every diagnostic of one file: front-end, then the rules when the recipe loaded."""
    from recipekit.source import read_source

    source, diagnostics = read_source(path)
    return lint_source(source, diagnostics, str(path), config, variables, params)


def lint_text(
    path: str | os.PathLike[str],
    text: str,
    bom: bool,
    config: LintConfig,
    variables: dict[str, Any] | None = None,
    params: list[dict[str, Any]] | None = None,
) -> tuple[Source | None, list[Diagnostic]]:
    """:func:`lint_file` on a candidate text of ``path`` (the ``--fix`` loop lints in memory)."""
    from recipekit.source import source_from_bytes

    data = ("\ufeff" if bom else "") + text
    markdown = os.path.splitext(os.fspath(path))[1].lower() == ".md"
    source, diagnostics = source_from_bytes(data.encode("utf-8"), str(path), markdown=markdown)
    return lint_source(source, diagnostics, str(path), config, variables, params)


def lint_source(
    source: Source | None,
    diagnostics: list[Diagnostic],
    path: str,
    config: LintConfig,
    variables: dict[str, Any] | None,
    params: list[dict[str, Any]] | None,
) -> tuple[Source | None, list[Diagnostic]]:
    recipe = None
    if source is not None:
        # Partial: a schema error in one modifier does not hide the rules on the others (one run reports everything).
        recipe, problems = load_source(source, variables, partial=True)
        diagnostics = diagnostics + problems
    if recipe is not None:
        ctx = LintContext(recipe, params=params, steps_per_epoch=config.steps_per_epoch)
        # Past schema errors the rules run too (load_source(partial=True)); a value the front-end refused
        # is reported once, by its error, not again by a rule at the same place.
        refused = {(d.location.line, d.location.column) for d in diagnostics if d.severity is Severity.ERROR and d.code not in REPRODUCED}
        found = run_rules(ctx, config)
        diagnostics = diagnostics + [d for d in found if (d.location.line, d.location.column) not in refused]
    diagnostics = configure(diagnostics, config, path)
    if source is not None:
        diagnostics = apply_suppressions(diagnostics, source)
        diagnostics = configure(diagnostics, config, path)
    return source, sorted_diagnostics(diagnostics)
