"""Throughput: recipe-lint over the v1 corpus against yamllint and SparseML's own loader, and a
10,000-file directory with its peak memory.

1. Corpus: the `format == v1` rows of ../shared/corpus/MANIFEST.tsv (perf-baselines §2). Whole
   processes, alternated (A B A B ...), 5 pairs after a warm-up; the ratio is the median of the
   per-pair ratios. recipe-lint reads the .md files itself; yamllint gets their front matter
   extracted to .yaml (it cannot read Markdown); SparseML runs ScheduledModifierManager.from_yaml
   on every path (optional: --sparseml-python). Goal (issue 6): faster than both.
2. Scale: 10,000 recipes (the corpus's v1 .yaml files, copied round-robin) linted as one
   directory; files per second and peak RSS, against a 1,000-file run (flat memory: same peak).

Run: .venv/bin/python bench/lint_throughput.py [--sparseml-python VENV/bin/python]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
BIN = Path(sys.executable).parent
PAIRS = 5
SPARSEML_LOADER = (
    "import os, sys, warnings\n"
    "os.environ.setdefault('NM_DISABLE_ANALYTICS', '1')\n"
    "warnings.filterwarnings('ignore')\n"
    "from sparseml.pytorch.optim import ScheduledModifierManager\n"
    "failed = 0\n"
    "for path in sys.argv[1:]:\n"
    "    try:\n"
    "        ScheduledModifierManager.from_yaml(path)\n"
    "    except Exception:\n"
    "        failed += 1\n"
    "print(failed, 'failed')\n"
)


def v1_files() -> list[Path]:
    rows = [line.split("\t") for line in (CORPUS / "MANIFEST.tsv").read_text(encoding="utf-8").splitlines()]
    header = rows[0]
    return [CORPUS / row[header.index("file")] for row in rows[1:] if row[header.index("format")] == "v1"]


def front_matter(text: str) -> str:
    lines = text.splitlines(keepends=True)
    fences = [i for i, line in enumerate(lines) if line.strip() == "---"][:2]
    return "".join(lines[fences[0] + 1 : fences[1]])


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start


def paired(ours: list[str], theirs: list[str]) -> tuple[float, float, float]:
    timed(ours), timed(theirs)  # warm the file cache
    pairs = [(timed(ours), timed(theirs)) for _ in range(PAIRS)]
    return (
        statistics.median(a for a, _ in pairs),
        statistics.median(b for _, b in pairs),
        statistics.median(a / b for a, b in pairs),
    )


def peak_rss(command: list[str]) -> tuple[float, int, str]:
    """Wall time, peak RSS (KiB) and last output line of a command run under a fresh parent."""
    probe = (
        "import resource, subprocess, sys, time\n"
        "start = time.perf_counter()\n"
        f"result = subprocess.run({command!r}, capture_output=True, text=True)\n"
        "print(time.perf_counter() - start)\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
        "print((result.stdout.strip().splitlines() or [''])[-1])\n"
    )
    wall, rss, last = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.splitlines()
    return float(wall), int(rss), last


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sparseml-python", help="a Python with sparseml==1.8.0 installed")
    parser.add_argument("--scale", type=int, default=10_000)
    args = parser.parse_args()
    if not CORPUS.is_dir():
        print("../shared/corpus is not available", file=sys.stderr)
        return 2
    files = v1_files()
    lint = [str(BIN / "recipe-lint"), "--format", "concise"]
    with tempfile.TemporaryDirectory() as scratch:
        extracted = []
        for index, path in enumerate(files):
            text = path.read_text(encoding="utf-8")
            target = Path(scratch) / f"{index:03d}-{path.name}.yaml"
            target.write_text(front_matter(text) if path.suffix == ".md" else text, encoding="utf-8")
            extracted.append(str(target))
        print(f"corpus: {len(files)} v1 recipes")
        ours, theirs, ratio = paired([*lint, *map(str, files)], [str(BIN / "yamllint"), "-d", "relaxed", *extracted])
        print(f"  recipe-lint {ours:.2f} s ({len(files) / ours:.0f} files/s), yamllint {theirs:.2f} s: ratio {ratio:.2f} (goal < 1)")
        if args.sparseml_python:
            sparseml = [args.sparseml_python, "-c", SPARSEML_LOADER, *map(str, files)]
            ours, theirs, ratio = paired([*lint, *map(str, files)], sparseml)
            print(f"  recipe-lint {ours:.2f} s, SparseML from_yaml {theirs:.2f} s: ratio {ratio:.2f} (goal < 1)")

        yaml_files = [p for p in files if p.suffix in (".yaml", ".yml")]
        for count in (args.scale // 10, args.scale):
            directory = Path(scratch) / f"scale-{count}"
            directory.mkdir()
            for index in range(count):
                shutil.copyfile(yaml_files[index % len(yaml_files)], directory / f"{index:05d}.yaml")
            wall, rss, last = peak_rss([*lint, str(directory)])
            print(f"scale: {count} files in {wall:.1f} s ({count / wall:.0f} files/s), peak RSS {rss / 1024:.1f} MiB; {last}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
