"""Fixtures for issue 16's conformance items: mask tie rules, mask creators, momentum at mask updates,
tied-modifier order, QAT custom module types and QAT that never observes."""

from __future__ import annotations

from pathlib import Path


def main(out: Path) -> None:
    raise SystemExit("conformance fixtures: not written yet")
