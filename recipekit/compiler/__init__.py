"""The front-end pipeline, one stage per line.

text → :class:`~recipekit.source.Source` → YAML node tree with spans →
layout (modifier lists, variables, stages) → variables evaluated →
modifiers validated against their schemas → :class:`~recipekit.ir.Recipe`.

Every stage returns diagnostics instead of raising.  A stage that cannot give
the next one meaningful input stops the pipeline; otherwise all problems of
the file are collected in one run.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from recipekit.compiler.layout import find_layout
from recipekit.compiler.modifiers import build_modifiers
from recipekit.compiler.v2.detect import NEITHER, V2, detect_format
from recipekit.compiler.variables import Evaluator, apply_overrides, evaluate_variables
from recipekit.compiler.yaml_tree import Node, compose
from recipekit.diagnostics import Diagnostic, Severity, has_errors, sorted_diagnostics
from recipekit.ir import Recipe
from recipekit.source import Source, Span, read_source, source_from_text

if TYPE_CHECKING:
    from recipekit.plan.model import Plan

Result = tuple[Recipe | None, list[Diagnostic]]

#: Errors in a recipe SparseML nevertheless ran, whose meaning the front-end reproduces: a
#: duplicate key keeps its last value, as PyYAML did. `recipe-lint` reports them as errors (so CI
#: catches them); compiling, normalizing and expanding go on with SparseML's meaning and a warning.
REPRODUCED = frozenset({"P111"})


def _blocking(diagnostics: list[Diagnostic]) -> bool:
    return has_errors([d for d in diagnostics if d.code not in REPRODUCED])


def as_sparseml_ran(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    """The diagnostics for a command that goes on with SparseML's meaning: reproduced errors become warnings."""
    return [
        Diagnostic(d.code, Severity.WARNING, d.message + " (compiled with the last value, as SparseML did)", d.location, d.notes, d.fix)
        if d.code in REPRODUCED and d.severity is Severity.ERROR
        else d
        for d in diagnostics
    ]


def load_source(source: Source, overrides: Mapping[str, Any] | None = None, *, partial: bool = False) -> Result:
    """The recipe and every diagnostic; the recipe is None when there are errors, unless ``partial``.

    ``partial`` (`recipe-lint`) returns the recipe whatever the errors, with every modifier the
    schema could make sense of (a parameter that failed holds its default; the error is reported),
    so the lint rules run on them and on the rest of the recipe in the same run.
    """
    tree, diagnostics = compose(source)
    if tree is None:
        return None, sorted_diagnostics(diagnostics)
    recipe_format, problems = detect_format(tree, source)
    if recipe_format == V2:
        from recipekit.compiler.v2.front import load_v2  # a v1 recipe never needs the v2 front-end

        return _v2_result(source, tree, load_v2(tree, source, diagnostics + problems), partial)
    embedded = None
    if recipe_format == NEITHER:
        from recipekit.compiler.v2.front import load_embedded

        embedded = load_embedded(tree, source)
    if embedded is not None:
        return _v2_result(source, tree, diagnostics + embedded, partial)
    layout, problems = find_layout(tree, source)
    diagnostics += problems
    if overrides:
        from recipekit.compiler.alias_overrides import unreached_aliases  # only with --var

        diagnostics += unreached_aliases(tree, layout, overrides, source)
    diagnostics += apply_overrides(layout, overrides or {}, source)
    evaluator = Evaluator(source)
    root, stages, variables = evaluate_variables(layout, source, evaluator)
    modifiers, problems = build_modifiers(layout.groups, root, stages, evaluator, lenient=partial)
    # Partial only past schema errors in modifiers: an error in the YAML, the layout or an expression
    # (an undefined alias reads as null) leaves values the rules would misjudge.
    sound = not _blocking(diagnostics + evaluator.diagnostics)
    diagnostics += evaluator.diagnostics + problems
    recipe = Recipe(source, tuple(modifiers), variables, tuple(layout.stages), tree)
    # A partial v1 recipe needs a modifier: the linter reads a recipe without any as a v2 one.
    keep = not _blocking(diagnostics) or (partial and sound and bool(modifiers))
    return (recipe if keep else None), sorted_diagnostics(diagnostics)


def _is_v2(tree: Node, source: Source) -> bool:
    """A v2 recipe, or a config file that embeds one (``recipe: |``)."""
    recipe_format, _ = detect_format(tree, source)
    if recipe_format == NEITHER:
        from recipekit.compiler.v2.front import load_embedded

        return load_embedded(tree, source) is not None
    return recipe_format == V2


def _v2_result(source: Source, tree: Node, diagnostics: list[Diagnostic], partial: bool = False) -> Result:
    recipe = Recipe(source, (), {}, (), tree)
    return (None if has_errors(diagnostics) and not partial else recipe), sorted_diagnostics(diagnostics)


def compile_source(
    source: Source, steps_per_epoch: float, overrides: Mapping[str, Any] | None = None, strict: bool = False
) -> tuple[Plan | None, list[Diagnostic]]:
    """Front-end, then lowering to a plan; the plan is None when there are errors.

    The plan carries the warnings in ``plan.warnings``.  ``strict`` refuses a plan that records
    a modifier the runtime will not execute (C410 becomes an error).
    """
    from recipekit.compiler.lower import lower  # not needed (nor imported) by a cold `recipe-lint`

    recipe, diagnostics = load_source(source, overrides)
    tree = recipe.tree if recipe is not None else compose(source)[0]
    if tree is not None and _is_v2(tree, source):
        message = (
            "this is a v2 (stage-format) recipe for llm-compressor / SparseML 1.7+: its one-shot algorithms (GPTQ, "
            "SparseGPT, SmoothQuant, ...) run in those libraries, and the recipekit runtime only replays SparseML v1 "
            "training schedules, so there is no plan to write. Lint it with `recipe-lint`; run it with llm-compressor"
        )
        return None, sorted_diagnostics([*diagnostics, source.diag("C415", Span(tree.span.start, tree.span.start), message)])
    diagnostics = as_sparseml_ran(diagnostics)
    if recipe is None:
        return None, diagnostics
    if not isinstance(steps_per_epoch, (int, float)) or isinstance(steps_per_epoch, bool) or not 0 < steps_per_epoch < math.inf:
        message = f"steps_per_epoch must be a positive number, not {steps_per_epoch!r}"
        return None, [*diagnostics, source.diag("C411", Span(source.yaml_start, source.yaml_start), message)]
    plan, problems = lower(recipe, steps_per_epoch, source.sha256)
    if strict:
        problems = [_refused(d) if d.code == "C410" else d for d in problems]
    diagnostics = sorted_diagnostics(diagnostics + problems)
    if plan is None or has_errors(diagnostics):
        return None, diagnostics
    plan.warnings = list(diagnostics)
    return plan, diagnostics


def _refused(diagnostic: Diagnostic) -> Diagnostic:
    message = f"{diagnostic.message} (refused by strict mode: remove the modifier or compile without --strict)"
    return Diagnostic(diagnostic.code, Severity.ERROR, message, diagnostic.location, diagnostic.notes, diagnostic.fix)


def load_file(path: str | os.PathLike[str], overrides: Mapping[str, Any] | None = None, display: str | None = None) -> Result:
    source, diagnostics = read_source(path, display)
    if source is None:
        return None, diagnostics
    recipe, problems = load_source(source, overrides)
    return recipe, sorted_diagnostics(diagnostics + as_sparseml_ran(problems))


def load_text(text: str, path: str = "<recipe>", markdown: bool | None = False, overrides: Mapping[str, Any] | None = None) -> Result:
    source, diagnostics = source_from_text(text, path, markdown)
    if source is None:
        return None, diagnostics
    recipe, problems = load_source(source, overrides)
    return recipe, sorted_diagnostics(diagnostics + as_sparseml_ran(problems))
