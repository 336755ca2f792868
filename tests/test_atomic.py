"""Files recipekit writes get the mode an ordinary `open()` would give them."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from recipekit.atomic import write_atomically


@pytest.fixture
def umask_027() -> Iterator[None]:
    old = os.umask(0o027)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_new_file_follows_the_umask(tmp_path: Path, umask_027: None) -> None:
    target = tmp_path / "plan.json"
    write_atomically(target, "{}")
    assert _mode(target) == 0o640
    assert target.read_text() == "{}"


def test_new_file_with_the_common_umask_is_world_readable(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        write_atomically(tmp_path / "report.txt", "ok")
    finally:
        os.umask(old)
    assert _mode(tmp_path / "report.txt") == 0o644


def test_rewritten_file_keeps_its_mode(tmp_path: Path, umask_027: None) -> None:
    target = tmp_path / "recipe.yaml"
    target.write_text("a: 1\n")
    target.chmod(0o664)
    write_atomically(target, "a: 2\n")
    assert _mode(target) == 0o664
    assert target.read_text() == "a: 2\n"
    assert [p.name for p in tmp_path.iterdir()] == ["recipe.yaml"]
