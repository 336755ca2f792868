"""Cold start of `recipe-lint` on one recipe, against `yamllint -d relaxed` on the same file.

Both run as whole processes, alternated (A B A B ...) so machine noise hits both
alike; the ratio is the median of the per-pair ratios. Goal: <= 1.0, and
recipe-lint never imports torch.

Recipes: the bundled examples/plain.yaml, and perf-baselines' "typical v1 recipe"
(the corpus's resnet18 recipe: three GMPruning modifiers and eval() variables)
when ../shared is present; or the files named on the command line.

Both come from build/coldstart-venv, where recipekit is installed as users get it
(`pip install .`, not editable: the editable finder alone adds ~40 ms to every
import of recipekit) next to yamllint; the venv is made on the first run and
recipekit reinstalled from this checkout on every run. The file is copied
outside the checkout so neither tool finds its configuration files.
Run: .venv/bin/python bench/lint_coldstart.py [RECIPE ...]
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / "build" / "coldstart-venv"
BIN = VENV / "bin"
PAIRS = 15
TYPICAL = ROOT.parent / "shared" / "corpus" / "sparseml" / "tests__sparseml__sparsification__recipes__resnet18.yaml"


def timed(command: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False, cwd=cwd)
    return time.perf_counter() - start


def install() -> None:
    """A venv with recipekit installed from this checkout (not editable) and yamllint."""
    if not (BIN / "yamllint").exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(BIN / "pip"), "install", "-q", str(ROOT), "yamllint"], check=True)
    subprocess.run([str(BIN / "pip"), "install", "-q", "--no-deps", "--force-reinstall", str(ROOT)], check=True)


def main() -> None:
    install()
    sources = [Path(arg) for arg in sys.argv[1:]] or [ROOT / "examples" / "plain.yaml", *([TYPICAL] if TYPICAL.exists() else [])]
    for source in sources:
        measure(source)


def measure(source: Path) -> None:
    scratch = Path(tempfile.mkdtemp())
    recipe = str(scratch / source.name)
    shutil.copyfile(source, recipe)
    ours = [str(BIN / "recipe-lint"), recipe]
    theirs = [str(BIN / "yamllint"), "-d", "relaxed", recipe]
    for command in (ours, theirs):  # warm the file cache
        timed(command, scratch)
    pairs = [(timed(ours, scratch), timed(theirs, scratch)) for _ in range(PAIRS)]
    probe = (
        f"import sys, runpy\nsys.argv = ['recipekit', 'lint', {recipe!r}]\n"
        "try:\n    runpy.run_module('recipekit', run_name='__main__')\nexcept SystemExit:\n    pass\n"
        "print('torch' in sys.modules)"
    )
    result = subprocess.run([str(BIN / "python"), "-c", probe], capture_output=True, text=True, check=False, cwd=scratch)
    torch_loaded = result.stdout.strip().splitlines()[-1]
    print(f"cold start on {Path(recipe).name}, {PAIRS} interleaved pairs")
    print(f"  recipe-lint:          {statistics.median(a for a, _ in pairs) * 1000:7.1f} ms (median)")
    print(f"  yamllint -d relaxed:  {statistics.median(b for _, b in pairs) * 1000:7.1f} ms (median)")
    print(f"  ratio recipe-lint / yamllint: {statistics.median(a / b for a, b in pairs):.2f}   (goal <= 1.0)")
    print(f"  torch imported by recipe-lint: {torch_loaded}")
    shutil.rmtree(scratch)


if __name__ == "__main__":
    main()
