from __future__ import annotations

from pathlib import Path

import pytest

from recipekit import limits
from recipekit.compiler import load_file
from recipekit.source import Span, read_source, source_from_bytes
from tests.helpers import found, ok

RECIPE = "modifiers:\n  - !EpochRangeModifier\n    start_epoch: 0.0\n    end_epoch: oops\n"


def positions(path: Path) -> list[tuple[int, int, str]]:
    _, diagnostics = load_file(path)
    return [(d.location.line, d.location.column, d.code) for d in diagnostics]


def test_markdown_positions_are_in_the_original_file(tmp_path: Path) -> None:
    path = tmp_path / "r.md"
    path.write_text("<!--\nlicence\n-->\n\n# Title\n---\n" + RECIPE + "---\n\nSome prose.\n")
    assert positions(path) == [(10, 16, "S205")]


def test_markdown_without_front_matter(tmp_path: Path) -> None:
    path = tmp_path / "r.md"
    path.write_text("# Just prose\n\nno recipe here\n")
    assert positions(path) == [(1, 1, "P105")]


def test_front_matter_closed_mid_line_is_read_as_sparseml_did_and_warned(tmp_path: Path) -> None:
    path = tmp_path / "r.md"
    text = "---\nmodifiers:\n  - !EpochRangeModifier\n    start_epoch: 0.0  # ---- note\n    end_epoch: 1.0\n---\n"
    path.write_text(text)
    # SparseML stops at the `---` inside the comment, so end_epoch is lost.
    assert positions(path) == [(3, 5, "S204"), (4, 25, "P114")]


def test_only_the_first_front_matter_block_is_read(tmp_path: Path) -> None:
    path = tmp_path / "r.md"
    path.write_text("---\nlayout: page\n---\n\n---\n" + RECIPE + "---\n")
    assert positions(path)[-1] == (2, 1, "S200")


def test_bom_is_not_a_column(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + RECIPE.encode())
    assert positions(path) == [(4, 16, "S205")]


def test_crlf_line_endings_keep_positions_exact(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_bytes(RECIPE.replace("\n", "\r\n").encode())
    assert positions(path) == [(4, 16, "S205")]


def test_invalid_utf8_points_at_the_byte(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_bytes(b"a: 1\nb: caf\xe9\n")
    assert positions(path) == [(2, 7, "P103")]


def test_nul_byte(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_bytes(b"a: 1\nb: x\x00y\n")
    assert positions(path) == [(2, 5, "P104")]


def test_unsupported_extension(tmp_path: Path) -> None:
    path = tmp_path / "r.txt"
    path.write_text(RECIPE)
    assert positions(path) == [(1, 1, "P100")]


def test_file_too_large_is_refused_before_reading() -> None:
    _, diagnostics = source_from_bytes(b"#" * (limits.MAX_FILE_BYTES + 1), "big.yaml", markdown=False)
    assert [(d.location.line, d.location.column, d.code) for d in diagnostics] == [(1, 1, "P102")]


def test_empty_recipe() -> None:
    assert found("") == [(1, 1, "P106")]
    assert found("# only a comment\n") == [(1, 1, "P106")]


def test_line_col_counts_code_points(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text('x: "😀"\n' + RECIPE, encoding="utf-8")
    source, _ = read_source(path)
    assert source is not None
    assert source.location(Span(4, 5)).column == 5
    assert positions(path) == [(5, 16, "S205")]


@pytest.mark.parametrize("extension", [".yaml", ".yml"])
def test_yaml_extensions_load(tmp_path: Path, extension: str) -> None:
    path = tmp_path / f"r{extension}"
    path.write_text(RECIPE.replace("oops", "1.0"))
    assert positions(path) == []


def test_text_api_detects_front_matter_like_sparseml() -> None:
    recipe = ok("modifiers:\n  - !EpochRangeModifier\n    start_epoch: 0.0\n    end_epoch: 3.0\n")
    assert recipe.modifiers[0].value("end_epoch") == 3.0
    assert found("intro\n---\n" + RECIPE + "---\n", markdown=None) == [(6, 16, "S205")]
