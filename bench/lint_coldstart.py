"""Cold start of `recipe-lint` on one recipe, against `yamllint -d relaxed` on the same file.

Both run as whole processes, alternated (A B A B ...) so machine noise hits both
alike; the ratio is the median of the per-pair ratios. Goal: <= 1.0, and
recipe-lint never imports torch. yamllint comes with the dev extra.
Run: .venv/bin/python bench/lint_coldstart.py [RECIPE]
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PAIRS = 15


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start


def main() -> None:
    recipe = sys.argv[1] if len(sys.argv) > 1 else str(ROOT / "examples" / "plain.yaml")
    ours = [str(BIN / "recipe-lint"), recipe]
    theirs = [str(BIN / "yamllint"), "-d", "relaxed", recipe]
    for command in (ours, theirs):  # warm the file cache
        timed(command)
    pairs = [(timed(ours), timed(theirs)) for _ in range(PAIRS)]
    probe = (
        f"import sys, runpy\nsys.argv = ['recipekit', 'lint', {recipe!r}]\n"
        "try:\n    runpy.run_module('recipekit', run_name='__main__')\nexcept SystemExit:\n    pass\n"
        "print('torch' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=False)
    torch_loaded = result.stdout.strip().splitlines()[-1]
    print(f"cold start on {Path(recipe).name}, {PAIRS} interleaved pairs")
    print(f"  recipe-lint:          {statistics.median(a for a, _ in pairs) * 1000:7.1f} ms (median)")
    print(f"  yamllint -d relaxed:  {statistics.median(b for _, b in pairs) * 1000:7.1f} ms (median)")
    print(f"  ratio recipe-lint / yamllint: {statistics.median(a / b for a, b in pairs):.2f}   (goal <= 1.0)")
    print(f"  torch imported by recipe-lint: {torch_loaded}")


if __name__ == "__main__":
    main()
