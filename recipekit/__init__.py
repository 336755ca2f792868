"""recipekit: a front-end, linter, compiler and runtime for SparseML recipes.

The public API is imported lazily so that `recipe-lint` starts fast and never
imports torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from recipekit.diagnostics import Diagnostic
    from recipekit.ir import Recipe
    from recipekit.plan.model import Plan


class RecipeError(Exception):
    """Raised by the Python API when a recipe has errors; carries the diagnostics."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = diagnostics
        first = diagnostics[0] if diagnostics else None
        where = (
            f"{first.location.path}:{first.location.line}:{first.location.column}: {first.code} {first.message}"
            if first
            else "invalid recipe"
        )
        more = f" (and {len(diagnostics) - 1} more)" if len(diagnostics) > 1 else ""
        super().__init__(where + more)


def load_recipe(path_or_text: Any, variables: dict[str, Any] | None = None) -> Recipe:
    """Load a recipe file (a ``Path`` or path string) or recipe text into the IR.

    Raises :class:`RecipeError` when the recipe has errors.  A string that
    contains a newline is recipe text, as in SparseML.
    """
    from pathlib import Path

    from recipekit.compiler import load_file, load_text
    from recipekit.diagnostics import Severity

    if isinstance(path_or_text, str) and ("\n" in path_or_text or "\r" in path_or_text):
        recipe, diagnostics = load_text(path_or_text, markdown=None, overrides=variables)
    else:
        recipe, diagnostics = load_file(Path(path_or_text), variables)
    if recipe is None:
        raise RecipeError([d for d in diagnostics if d.severity is Severity.ERROR])
    return recipe


def _source(path_or_text: Any) -> Any:
    from pathlib import Path

    from recipekit.source import read_source, source_from_text

    if isinstance(path_or_text, str) and ("\n" in path_or_text or "\r" in path_or_text):
        return source_from_text(path_or_text, "<recipe>", markdown=None)
    return read_source(Path(path_or_text))


def compile_with_diagnostics(
    path_or_text: Any, steps_per_epoch: float, variables: dict[str, Any] | None = None
) -> tuple[Plan | None, list[Diagnostic]]:
    """Compile a recipe (path or text); the plan (``None`` on errors) and every diagnostic."""
    from recipekit.compiler import compile_source

    source, diagnostics = _source(path_or_text)
    if source is None:
        return None, diagnostics
    return compile_source(source, steps_per_epoch, variables)


def compile_recipe(path_or_text: Any, steps_per_epoch: float, variables: dict[str, Any] | None = None) -> Plan:
    """Compile a recipe (path or text) into a :class:`~recipekit.plan.Plan`.

    Raises :class:`RecipeError` with every error diagnostic when the recipe
    cannot be compiled.
    """
    from recipekit.diagnostics import Severity

    plan, diagnostics = compile_with_diagnostics(path_or_text, steps_per_epoch, variables)
    if plan is None:
        raise RecipeError([d for d in diagnostics if d.severity is Severity.ERROR])
    return plan


def load_plan(path: Any) -> Plan:
    """Read a plan file; raises :class:`recipekit.plan.PlanError` when it is not a valid plan."""
    from recipekit.plan.model import load_plan as _load_plan

    return _load_plan(path)


__all__ = ["RecipeError", "__version__", "compile_recipe", "compile_with_diagnostics", "load_plan", "load_recipe"]
