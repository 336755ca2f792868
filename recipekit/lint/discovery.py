"""Which files `recipe-lint DIRECTORY` checks.

As ruff does, a directory walk skips hidden directories (``.git``, ``.venv``, ``.tox`` …),
virtual environments (any directory holding ``pyvenv.cfg``), the usual build and dependency
folders (:data:`EXCLUDED_NAMES`), paths git ignores (when the directory is in a git work
tree), and ``--exclude`` globs.  Of what is left, only *recipes* are checked: a file with a
recipe suffix whose YAML (for Markdown, the front matter SparseML reads) contains

* a modifier tag, ``!GMPruningModifier`` or ``!pytorch.GMPruningModifier`` (a v1 recipe;
  ``Modif`` is enough, so a misspelled ``!GMPruningModifer`` is still checked), or
* a mapping key naming a modifier, ``SparseGPTModifier:`` (the v2 stage layout), or
* a top-level block modifier list, ``modifiers:`` or ``training_modifiers:`` then a new line (a v1 recipe whose
  modifiers are broken beyond a recognizable tag is still a recipe, and still an error).

This is one regular expression over the file's text, no YAML parsing, so a walk over a whole
repository costs little more than reading it.  Every other YAML or Markdown file (a GitHub
workflow, a config, a README) is counted as skipped in the summary.  A file named on the
command line is always checked in full, whatever it holds and wherever it is, except with
``--only-recipes`` (the pre-commit hooks: pre-commit names every file its ``files:`` pattern
matches, ``recipes/README.md`` and ``recipes/train_config.yaml`` included), which applies the
same test to named files.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Iterator
from pathlib import Path

from recipekit import limits
from recipekit.source import RECIPE_SUFFIXES

#: Directory names never walked into (ruff's defaults that are not hidden directories).
EXCLUDED_NAMES = frozenset(
    {"__pypackages__", "_build", "buck-out", "build", "dist", "node_modules", "site-packages", "venv", "__pycache__"}
)
_MARKER = re.compile(
    r"!(?:pytorch\.)?[A-Za-z_]\w*Modif|^[ \t]*-?[ \t]*[A-Za-z_]\w*Modifier[ \t]*:|^\w*modifiers[ \t]*:[ \t]*(?:#.*)?$", re.M
)
# SparseML's front-matter pattern (source.py): only what it reads counts.
_FRONT_MATTER = re.compile(r"^\s*(?:---|\+\+\+)(.*?)(?:---|\+\+\+)", re.S | re.M)


class Walk:
    """The files of one `recipe-lint` run, and how many a directory walk skipped as not recipes."""

    __slots__ = ("excludes", "skipped", "only_recipes")

    def __init__(self, excludes: tuple[str, ...] = (), only_recipes: bool = False) -> None:
        self.excludes = excludes
        self.skipped = 0
        #: Named files too are checked only if they look like recipes (``--only-recipes``).
        self.only_recipes = only_recipes

    def paths(self, paths: tuple[Path, ...]) -> Iterator[Path]:
        for path in paths:
            if path.is_dir():
                for found in self.walk(path):
                    if is_recipe(found):
                        yield found
                    else:
                        self.skipped += 1
            elif self.only_recipes and not is_recipe(path):
                self.skipped += 1
            else:
                yield path

    def walk(self, root: Path) -> list[Path]:
        """Recipe-suffixed files under ``root`` that are not excluded, sorted."""
        allowed = _git_visible(root)
        allowed_dirs = None if allowed is None else {parent for name in allowed for parent in _parents(name)}
        found: list[Path] = []
        for directory, dirs, files in os.walk(root):
            relative_dir = os.path.relpath(directory, root)
            relative_dir = "" if relative_dir == "." else relative_dir.replace(os.sep, "/") + "/"
            dirs[:] = [
                d
                for d in dirs
                if not self._skip_dir(Path(directory) / d, relative_dir + d) and (allowed_dirs is None or relative_dir + d in allowed_dirs)
            ]
            for name in files:
                relative = relative_dir + name
                if Path(name).suffix.lower() not in RECIPE_SUFFIXES or self._excluded(relative):
                    continue
                if allowed is not None and relative not in allowed:
                    continue
                found.append(Path(directory) / name)
        return sorted(found)

    def _skip_dir(self, path: Path, relative: str) -> bool:
        name = path.name
        return name.startswith(".") or name in EXCLUDED_NAMES or (path / "pyvenv.cfg").is_file() or self._excluded(relative)

    def _excluded(self, relative: str) -> bool:
        name = relative.rpartition("/")[2]
        return any(fnmatch.fnmatchcase(relative, glob) or fnmatch.fnmatchcase(name, glob) for glob in self.excludes)


def is_recipe(path: Path) -> bool:
    """Whether a file found by walking a directory looks like a recipe (see the module docstring)."""
    try:
        with path.open("rb") as handle:
            text = handle.read(limits.MAX_FILE_BYTES).decode("utf-8", errors="replace")
    except OSError:
        return True  # unreadable: let the linter say so (P100)
    return is_recipe_text(text, path.suffix.lower() == ".md")


def is_recipe_text(text: str, markdown: bool) -> bool:
    """:func:`is_recipe` on text already in memory (an editor's buffer)."""
    if markdown:
        match = _FRONT_MATTER.search(text)
        if match is None:
            return False
        text = match.group(1)
    return _MARKER.search(text) is not None


def walk_skips(root: Path, file: Path) -> bool:
    """Whether a walk of ``root`` would never reach ``file``: a skipped directory on the way, or git ignores it."""
    parts = file.relative_to(root).parts
    walk = Walk()
    for index in range(1, len(parts)):
        if walk._skip_dir(root.joinpath(*parts[:index]), "/".join(parts[:index])):
            return True
    import subprocess

    try:
        ignored = subprocess.run(
            ["git", "-C", str(root), "check-ignore", "-q", "--", "/".join(parts)], capture_output=True, timeout=60, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return False  # no git: nothing is ignored
    return ignored.returncode == 0


def _parents(relative: str) -> Iterator[str]:
    parts = relative.split("/")[:-1]
    for index in range(1, len(parts) + 1):
        yield "/".join(parts[:index])


def _git_visible(root: Path) -> set[str] | None:
    """Files under ``root`` that git does not ignore (relative, '/'-separated); None outside a work tree."""
    import subprocess  # only a directory walk pays for it

    try:
        result = subprocess.run(
            ["git", "-C", str(root), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            capture_output=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None  # no git: walk everything that is not excluded
    if result.returncode != 0:
        return None  # not a git work tree
    return {name for name in result.stdout.decode("utf-8", errors="surrogateescape").split("\0") if name}
