"""`recipe-lint` configuration: ``[tool.recipe-lint]`` in pyproject.toml, or recipe-lint.toml.

Unknown keys are errors: a typo in a config file must not silently turn a check off.
"""

from __future__ import annotations

import fnmatch
import os
import sys
from typing import TYPE_CHECKING, Any

from recipekit.diagnostics import Severity
from recipekit.record import MutableRecord
from recipekit.suggest import did_you_mean

if TYPE_CHECKING:
    from pathlib import Path

KEYS = ("select", "ignore", "severity", "params", "steps-per-epoch", "per-file-ignores", "strict")


class ConfigError(ValueError):
    """A configuration problem; the command exits 2 (usage error)."""


class LintConfig(MutableRecord):
    """`[tool.recipe-lint]` or recipe-lint.toml, filled in key by key as it is read."""

    __slots__ = ("select", "ignore", "severity", "params", "steps_per_epoch", "per_file_ignores", "strict", "path")

    def __init__(self, path: Path | None = None) -> None:
        self.select: list[str] = ["ALL"]
        self.ignore: list[str] = []
        self.severity: dict[str, Severity] = {}
        self.params: Path | None = None
        self.steps_per_epoch: float | None = None
        self.per_file_ignores: dict[str, list[str]] = {}
        self.strict = False
        #: The file it was read from.
        self.path = path

    def enabled(self, code: str, file: str, name: str | None = None) -> bool:
        """Whether ``code`` (kebab-case ``name``) is reported in ``file`` (a path as given on the command line)."""

        def matches(patterns: list[str]) -> bool:
            return any(selects(p, code, name) for p in patterns)

        if not matches(self.select) or matches(self.ignore):
            return False
        if not self.per_file_ignores:
            return True
        relative = self.relative(file)
        return not any(fnmatch.fnmatch(relative, glob) and matches(codes) for glob, codes in self.per_file_ignores.items())

    def root(self) -> str:
        """The project root: the folder of the configuration file, else the working directory."""
        return os.path.dirname(os.path.abspath(self.path)) if self.path is not None else os.getcwd()

    def relative(self, file: str) -> str:
        """``file`` relative to :meth:`root`, '/'-separated: what per-file-ignores globs match, wherever recipe-lint runs."""
        relative = os.path.relpath(os.path.abspath(file), self.root())
        return relative.replace(os.sep, "/")


def selects(pattern: str, code: str, name: str | None) -> bool:
    """Whether a configuration or suppression entry names ``code``: ``ALL``, a code or code prefix
    (``L33`` is L330-L339), or the code's kebab-case name (``qat-during-ramp``)."""
    upper = pattern.upper()
    return upper == "ALL" or code.startswith(upper) or (name is not None and pattern.lower() == name)


def find_config(start: str | os.PathLike[str]) -> Path | None:
    """The nearest recipe-lint.toml, or pyproject.toml with a [tool.recipe-lint] table."""
    # os.path for the walk up: pathlib costs ~2 ms of a cold start, and most runs find no configuration.
    folder = os.path.abspath(start)
    while True:
        dedicated = os.path.join(folder, "recipe-lint.toml")
        if os.path.isfile(dedicated):
            return _path(dedicated)
        pyproject = os.path.join(folder, "pyproject.toml")
        # Most pyproject.toml files say nothing of recipe-lint: do not parse (nor import tomllib) for them.
        if (
            os.path.isfile(pyproject)
            and "[tool.recipe-lint" in _text(_path(pyproject))
            and "recipe-lint" in _read(_path(pyproject)).get("tool", {})
        ):
            return _path(pyproject)
        parent = os.path.dirname(folder)
        if parent == folder:
            return None
        folder = parent


def _path(file: str) -> Path:
    import pathlib  # only once a configuration file is found: most runs have none

    return pathlib.Path(file)


def _text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError as error:
        raise ConfigError(f"{path}: cannot read configuration: {error}") from None


def _read(path: Path) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib

    try:
        with path.open("rb") as handle:
            document: dict[str, Any] = tomllib.load(handle)
            return document
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"{path}: cannot read configuration: {error}") from None


def load_config(path: str | os.PathLike[str] | None) -> LintConfig:
    if path is None:
        return LintConfig()
    path = _path(os.fspath(path))
    document = _read(path)
    table = document.get("tool", {}).get("recipe-lint", {}) if path.name == "pyproject.toml" else document
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [tool.recipe-lint] must be a table")
    config = LintConfig(path=path)
    for key, value in table.items():
        normalized = key.replace("_", "-")
        if normalized not in KEYS:
            raise ConfigError(f"{path}: unknown recipe-lint setting {key!r}{did_you_mean(normalized, KEYS)}")
        _apply(config, normalized, value, path)
    return config


def _codes(value: Any, key: str, path: Path) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{path}: {key} must be a list of codes or code prefixes")
    return value


def _apply(config: LintConfig, key: str, value: Any, path: Path) -> None:
    if key == "select":
        config.select = _codes(value, key, path)
    elif key == "ignore":
        config.ignore = _codes(value, key, path)
    elif key == "severity":
        if not isinstance(value, dict):
            raise ConfigError(f'{path}: severity must be a table of CODE = "error" | "warning" | "info"')
        try:
            config.severity = {code: Severity(level) for code, level in value.items()}
        except ValueError:
            raise ConfigError(f'{path}: severities are "error", "warning" or "info"') from None
    elif key == "params":
        if not isinstance(value, str):
            raise ConfigError(f"{path}: params must be the path of a parameter manifest")
        config.params = (path.parent / value).resolve()
    elif key == "steps-per-epoch":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise ConfigError(f"{path}: steps-per-epoch must be a positive number")
        config.steps_per_epoch = value
    elif key == "per-file-ignores":
        if not isinstance(value, dict):
            raise ConfigError(f'{path}: per-file-ignores must be a table of "glob" = [codes]')
        config.per_file_ignores = {glob: _codes(codes, key, path) for glob, codes in value.items()}
    elif key == "strict":
        if not isinstance(value, bool):
            raise ConfigError(f"{path}: strict must be true or false")
        config.strict = value
