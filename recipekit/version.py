"""The version, in one place: pyproject.toml reads it from here, the package and reports import it."""

VERSION = "0.1.0"
