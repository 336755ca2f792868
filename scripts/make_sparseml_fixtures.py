"""Drive SparseML 1.8.0 on tiny models and write the fixtures recipekit's tests compare against.

Run by hand, in a separate virtual environment that has sparseml (never a recipekit dependency;
the recipe is at the end of ../shared/reference/sparseml-algorithms.md):

    NM_DISABLE_ANALYTICS=1 NM_TEST_MODE=1 /path/to/sparseml-venv/bin/python scripts/make_sparseml_fixtures.py [TOPIC ...]

Each topic is a module under scripts/sparseml_fixtures/ with a ``main(out: Path) -> None`` that
writes small files (torch.save dicts of tensors, JSON) under tests/fixtures/sparseml/<topic>/.
With no argument every topic runs. To add a topic, add its module and one line to TOPICS.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "fixtures" / "sparseml"

#: topic name -> module under scripts/sparseml_fixtures/ (one line per topic).
TOPICS = {
    "conformance": "sparseml_fixtures.conformance",
    "algorithms": "sparseml_fixtures.algorithms",
    "acdc": "sparseml_fixtures.acdc",
    "layer_pruning": "sparseml_fixtures.layer_pruning",
    "mfac": "sparseml_fixtures.mfac",
    "qat_fold": "sparseml_fixtures.qat_fold",
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("topics", nargs="*", choices=sorted(TOPICS), help="topics to regenerate (default: all)")
    args = parser.parse_args()
    os.environ.setdefault("NM_DISABLE_ANALYTICS", "1")
    os.environ.setdefault("NM_TEST_MODE", "1")
    os.environ.setdefault("NM_TEST_LOG_DIR", tempfile.mkdtemp())  # SparseML's test mode logs there
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    for topic in args.topics or list(TOPICS):
        module = importlib.import_module(TOPICS[topic])
        out = OUT / topic
        out.mkdir(parents=True, exist_ok=True)
        print(f"{topic}: writing {out.relative_to(ROOT)}", flush=True)
        module.main(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
