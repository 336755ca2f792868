"""One editor buffer, linted in memory exactly as `recipe-lint` lints the file.

The engine is the CLI's: :func:`recipekit.lint.linter.lint_text` on the buffer, the
configuration :func:`recipekit.lint.config.find_config` finds (walking up from the file, as
the CLI walks up from where it runs; re-read whenever the file's modification time
changes), the parameter manifest the configuration names, and the walk's skip rules
(:mod:`recipekit.lint.discovery`): a file the walk would skip gets no diagnostics.
Diagnostic paths and per-file-ignore globs are relative to the workspace folder, as they are
for `recipe-lint` run from there.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from recipekit.source import RECIPE_SUFFIXES

if TYPE_CHECKING:
    from recipekit.diagnostics import Diagnostic
    from recipekit.ir import Recipe
    from recipekit.lint.config import LintConfig
    from recipekit.source import Source


class Settings:
    """The configuration and manifest of one file, and why they could not be read (if so)."""

    __slots__ = ("config", "params", "problem")

    def __init__(self, config: LintConfig, params: list[dict[str, Any]] | None, problem: str | None) -> None:
        self.config = config
        self.params = params
        #: A configuration or manifest error, said to the user; the file is then linted with the defaults.
        self.problem = problem


class Resolver:
    """Finds each file's configuration, re-reading a file only when its modification time changed."""

    def __init__(self) -> None:
        self._configs: dict[str, tuple[int, LintConfig]] = {}
        self._manifests: dict[str, tuple[int, list[dict[str, Any]]]] = {}

    def settings(self, file: str) -> Settings:
        from recipekit.lint.config import ConfigError, LintConfig, find_config, load_config

        try:
            found = find_config(os.path.dirname(file))
            config = LintConfig() if found is None else self._cached(self._configs, str(found), load_config)
        except ConfigError as error:
            return Settings(LintConfig(), None, f"{error}; linting with the default configuration")
        if config.params is None:
            return Settings(config, None, None)
        from recipekit.plan.manifest import ManifestError, load_manifest

        try:
            params = self._cached(self._manifests, str(config.params), lambda path: load_manifest(_path(path)))
        except ManifestError as error:
            return Settings(config, None, f"{config.params}: {error}; linting without the parameter manifest")
        return Settings(config, params, None)

    @staticmethod
    def _cached(cache: dict[str, tuple[int, Any]], path: str, read: Any) -> Any:
        try:
            stamp = os.stat(path).st_mtime_ns
        except OSError:
            stamp = -1
        hit = cache.get(path)
        if hit is not None and hit[0] == stamp:
            return hit[1]
        value = read(path)
        cache[path] = (stamp, value)
        return value

    def forget(self) -> None:
        """Drop every cached configuration (a watched file changed)."""
        self._configs.clear()
        self._manifests.clear()


def _path(path: str) -> Any:
    from pathlib import Path

    return Path(path)


def workspace_root(file: str, roots: list[str]) -> str | None:
    """The innermost workspace folder holding ``file``."""
    inside = [root for root in roots if file == root or file.startswith(root.rstrip(os.sep) + os.sep)]
    return max(inside, key=len) if inside else None


def display_path(file: str, root: str | None) -> str:
    """The path `recipe-lint` run from the workspace folder would print (and match per-file ignores on)."""
    if root is None:
        return file
    return os.path.relpath(file, root).replace(os.sep, "/")


def not_a_recipe(file: str, text: str) -> bool:
    """A file a `recipe-lint` walk skips whatever its folder: not a recipe suffix, or no modifier in it."""
    from recipekit.lint.discovery import is_recipe_text

    suffix = os.path.splitext(file)[1].lower()
    return suffix not in RECIPE_SUFFIXES or not is_recipe_text(text, suffix == ".md")


def walk_skips(file: str, root: str | None) -> bool:
    """Whether a walk of the workspace folder never reaches the file (hidden, venv, excluded or git-ignored)."""
    from recipekit.lint.discovery import walk_skips as skips

    return root is not None and skips(_path(root), _path(file))


class Linted:
    """A buffer's lint result: the source (None when the bytes did not decode) and its diagnostics."""

    __slots__ = ("path", "text", "source", "diagnostics", "settings")

    def __init__(self, path: str, text: str, source: Source | None, diagnostics: list[Diagnostic], settings: Settings) -> None:
        self.path = path
        self.text = text
        self.source = source
        self.diagnostics = diagnostics
        self.settings = settings


def lint_buffer(path: str, text: str, settings: Settings) -> Linted:
    """`recipe-lint` on ``text`` as the file ``path`` (the display path), in memory."""
    from recipekit.lint.linter import lint_text

    bom = text.startswith("\ufeff")
    body = text[1:] if bom else text
    source, diagnostics = lint_text(path, body, bom, settings.config, {}, settings.params)
    return Linted(path, text, source, diagnostics, settings)


def fix_all(linted: Linted) -> str | None:
    """The text `recipe-lint --fix` would write (its in-memory loop, unchanged), or None when nothing changes."""
    from recipekit.lint.fix import fix_until_stable
    from recipekit.lint.linter import lint_text

    source = linted.source
    if source is None:
        return None
    settings = linted.settings
    outcome = fix_until_stable(
        source, linted.diagnostics, lambda text: lint_text(linted.path, text, source.bom, settings.config, {}, settings.params)
    )
    if outcome.source is None or outcome.source.text == source.text:
        return None
    return ("\ufeff" if source.bom else "") + outcome.source.text


def load_recipe(source: Source) -> Recipe | None:
    """The recipe's IR (effective values); while the file has errors, the modifiers that built cleanly.

    The front-end returns no recipe while any error remains, but a buffer being edited nearly
    always has one; hover still wants the effective values of the modifiers that are fine. So
    the v1 front-end's own stages (compiler/__init__.py: load_source) are run again here,
    keeping what they built: a modifier with an error of its own is not built by them.
    """
    from recipekit.compiler import load_source

    recipe, _ = load_source(source)
    if recipe is not None:
        return recipe
    from recipekit.compiler.layout import find_layout
    from recipekit.compiler.modifiers import build_modifiers
    from recipekit.compiler.v2.detect import V1, detect_format
    from recipekit.compiler.variables import Evaluator, evaluate_variables
    from recipekit.compiler.yaml_tree import compose
    from recipekit.ir import Recipe

    tree, _ = compose(source)
    if tree is None or detect_format(tree, source)[0] != V1:
        return None
    layout, _ = find_layout(tree, source)
    evaluator = Evaluator(source)
    root, stages, variables = evaluate_variables(layout, source, evaluator)
    modifiers, _ = build_modifiers(layout.groups, root, stages, evaluator)
    return Recipe(source, tuple(modifiers), variables, tuple(layout.stages), tree)
