"""Record what the real libraries do with every v2 recipe of the corpus.

Run by hand, once per dialect, in the library's own virtual environment::

    /work/venvs/llmcompressor/bin/python scripts/v2_verdicts.py llmcompressor
    PYTHONPATH=/work/venvs/sparseml-llm-extra NM_DISABLE_ANALYTICS=1 NM_TEST_MODE=1 \\
        /work/venvs/sparseml/bin/python scripts/v2_verdicts.py sparseml

For each ``format == v2`` row of ``../shared/corpus/MANIFEST.tsv`` it loads the
recipe exactly as the library's entry points do: llm-compressor's
``Recipe.create_instance(text)`` (which validates every modifier's pydantic
model); SparseML 1.8's ``Recipe.create_instance(text)`` followed by
``create_modifier(Framework.pytorch)`` (where SparseML evaluates the recipe's
variables and validates the modifiers).  A file of kind ``embedded`` is a test
configuration whose top-level string values hold recipes (``recipe: |``); each
is loaded, and the file is accepted when all are.

The verdicts go to ``tests/expectations/v2_verdicts.tsv`` (one row per file and
dialect: ``accept``, ``empty`` (accepted with no modifier at all) or
``reject``, the number of modifiers loaded, and the library's first error
line); rows of the other dialect are kept.
"""

from __future__ import annotations

import csv
import io
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("RECIPEKIT_SHARED") or ROOT.parent / "shared") / "corpus"
OUT = ROOT / "tests" / "expectations" / "v2_verdicts.tsv"
FIELDS = ["file", "dialect", "verdict", "modifiers", "error"]


def recipes_of(path: Path, kind: str) -> list[str]:
    text = path.read_text(encoding="utf-8")
    if kind != "embedded":
        return [text]
    import yaml

    document = yaml.safe_load(text)
    return [value for value in document.values() if isinstance(value, str) and isinstance(yaml.safe_load(value), dict)]


def load_llmcompressor(text: str) -> int:
    from llmcompressor.recipe import Recipe

    return len(Recipe.create_instance(text).modifiers)


def load_sparseml(text: str) -> int:
    from sparseml.core.framework import Framework
    from sparseml.core.recipe import Recipe

    recipe = Recipe.create_instance(text)
    return sum(len(stage.modifiers) for stage in recipe.create_modifier(Framework.pytorch))


def first_line(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}"
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return " | ".join(lines[:3])[:300]


def verdict(loader: Any, texts: list[str]) -> tuple[str, int, str]:
    total = 0
    for text in texts:
        try:
            total += loader(text)
        except Exception as error:  # noqa: BLE001 - the verdict is whatever the library raised
            return "reject", total, first_line(error)
    return ("accept" if total else "empty"), total, ""


def main() -> None:
    dialect = sys.argv[1] if len(sys.argv) > 1 else ""
    loaders = {"llmcompressor": load_llmcompressor, "sparseml": load_sparseml}
    if dialect not in loaders:
        raise SystemExit(f"usage: v2_verdicts.py {{{'|'.join(loaders)}}}")
    rows: list[dict[str, str]] = []
    if OUT.is_file():
        with OUT.open(encoding="utf-8") as handle:
            rows = [row for row in csv.DictReader(handle, delimiter="\t") if row["dialect"] != dialect]
    with (CORPUS / "MANIFEST.tsv").open(encoding="utf-8") as handle:
        manifest = [row for row in csv.DictReader(handle, delimiter="\t") if row["format"] == "v2"]
    for row in manifest:
        texts = recipes_of(CORPUS / row["file"], row["kind"])
        result, count, error = verdict(loaders[dialect], texts)
        rows.append({"file": row["file"], "dialect": dialect, "verdict": result, "modifiers": str(count), "error": error})
        print(f"{result:7} {count:3} {row['file']} {error[:120]}")
    rows.sort(key=lambda r: (r["file"], r["dialect"]))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, FIELDS, delimiter="\t", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    OUT.write_text(buffer.getvalue(), encoding="utf-8")


if __name__ == "__main__":
    main()
