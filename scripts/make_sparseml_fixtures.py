"""Drive SparseML 1.8.0 on tiny models and write the fixtures recipekit's tests compare against.

Run by hand, in a separate virtual environment that has sparseml (never a recipekit dependency;
the recipe is at the end of ../shared/reference/sparseml-algorithms.md):

    NM_DISABLE_ANALYTICS=1 NM_TEST_MODE=1 /path/to/sparseml-venv/bin/python scripts/make_sparseml_fixtures.py [TOPIC ...]

Each topic is a module under scripts/sparseml_fixtures/ with a ``main(out: Path) -> None`` that
writes small files (torch.save dicts of tensors, JSON) under tests/fixtures/sparseml/<topic>/
(``--out DIR``: under DIR/<topic>/ instead, as scripts/conformance.sh does). With no argument
every topic runs. To add a topic, add its module and one line to TOPICS.

Next to every topic's files this script writes ``fingerprint.json``: how this machine computes
float32 (scripts/float_fingerprint.py). The tests compare bitwise against a topic whose
fingerprint equals theirs and within a stated tolerance otherwise (tests/fixture_compare.py).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "fixtures" / "sparseml"
sys.path.insert(0, str(Path(__file__).resolve().parent))  # sparseml_fixtures, float_fingerprint (torch only)

from float_fingerprint import FILENAME, fingerprint  # noqa: E402 - the tests' own definition

#: topic name -> module under scripts/sparseml_fixtures/ (one line per topic).
TOPICS = {
    "conformance": "sparseml_fixtures.conformance",
    "algorithms": "sparseml_fixtures.algorithms",
    "acdc": "sparseml_fixtures.acdc",
    "layer_pruning": "sparseml_fixtures.layer_pruning",
    "mfac": "sparseml_fixtures.mfac",
    "overlap": "sparseml_fixtures.overlap",
    "qat_fold": "sparseml_fixtures.qat_fold",
    "attention": "sparseml_fixtures.attention",
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # No ``choices``: Python 3.11's argparse checks the empty default of nargs="*" against them.
    parser.add_argument("topics", nargs="*", metavar="TOPIC", help=f"topics to regenerate (default: all): {', '.join(TOPICS)}")
    parser.add_argument("--out", type=Path, default=OUT, help="write DIR/<topic>/ (default: tests/fixtures/sparseml)")
    parser.add_argument("--list", action="store_true", help="print the topics that would run, one a line, and exit")
    args = parser.parse_args()
    unknown = [t for t in args.topics if t not in TOPICS]
    if unknown:
        parser.error(f"unknown topic {', '.join(map(repr, unknown))} (choose from {', '.join(TOPICS)})")
    topics = args.topics or list(TOPICS)
    if args.list:
        print("\n".join(topics))
        return 0
    os.environ.setdefault("NM_DISABLE_ANALYTICS", "1")
    os.environ.setdefault("NM_TEST_MODE", "1")
    os.environ.setdefault("NM_TEST_LOG_DIR", tempfile.mkdtemp())  # SparseML's test mode logs there
    for topic in topics:
        module = importlib.import_module(TOPICS[topic])
        out = args.out / topic
        out.mkdir(parents=True, exist_ok=True)
        print(f"{topic}: writing {out}", flush=True)
        module.main(out)
        # After the topic ran: a fingerprint of the very process (and torch settings) that made the files.
        (out / FILENAME).write_text(json.dumps(fingerprint(), indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
