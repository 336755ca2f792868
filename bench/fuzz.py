"""The large-budget fuzzer: mutated real recipes and mutated bytes through every stage.

The property is tests/fuzzing.py's: the front-end, the compiler and every lint
rule never raise, and every reported position lies inside the file. Seeds are
the bundled examples plus every recipe of ../shared/corpus when it is present.
Hypothesis only generates here (no shrinking, no database) so a failure is
recorded and the run goes on; each failing input is written to --failures.

Run: .venv/bin/python bench/fuzz.py --cases 100000 [--seed 0] [--failures DIR]
(the same seed and seed files give the same cases)
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fuzzing import BUNDLED_SEEDS, check_bytes, check_text, mutated  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus"
#: Share of the cases spent on byte-level mutations; the rest are structural.
BYTE_SHARE = 0.2


def corpus_seeds() -> list[str]:
    if not CORPUS.is_dir():
        return []
    texts = []
    for path in sorted(CORPUS.rglob("*")):
        if path.suffix in (".yaml", ".yml", ".md") and path.is_file():
            try:
                texts.append(path.read_text(encoding="utf-8"))
            except UnicodeDecodeError:
                continue
    return texts


@st.composite
def mutated_bytes(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    """A seed with a few bytes overwritten, inserted or deleted at random offsets."""
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 8))):
        at = draw(st.integers(0, len(data)))
        byte = draw(st.integers(0, 255))
        kind = draw(st.sampled_from(["set", "insert", "delete"]))
        if kind == "insert" or not data or at == len(data):
            data.insert(at, byte)
        elif kind == "set":
            data[at] = byte
        else:
            del data[at]
    return bytes(data)


class Run:
    def __init__(self, failures: Path) -> None:
        self.cases = 0
        self.failed: list[str] = []
        self.failures = failures

    def guard(self, kind: str, check: Callable[[], None], payload: bytes) -> None:
        self.cases += 1
        try:
            check()
        except Exception:  # noqa: BLE001 - the fuzzer records every failure and goes on
            self.failures.mkdir(parents=True, exist_ok=True)
            name = f"{kind}-{len(self.failed):04d}"
            (self.failures / f"{name}.input").write_bytes(payload)
            (self.failures / f"{name}.txt").write_text(traceback.format_exc(), encoding="utf-8")
            self.failed.append(f"{name}: {traceback.format_exc().strip().splitlines()[-1]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--failures", type=Path, default=ROOT / "build" / "fuzz-failures")
    args = parser.parse_args()
    corpus = corpus_seeds()
    seeds = BUNDLED_SEEDS + corpus
    byte_seeds = [s.encode("utf-8") for s in seeds]
    run = Run(args.failures)
    byte_cases = int(args.cases * BYTE_SHARE)

    def budget(cases: int) -> settings:
        return settings(max_examples=cases, database=None, deadline=None, phases=[Phase.generate], suppress_health_check=list(HealthCheck))

    @seed(args.seed)
    @budget(args.cases - byte_cases)
    @given(mutated(seeds), st.booleans())
    def structural(text: str, markdown: bool) -> None:
        run.guard("text", lambda: check_text(text, markdown), text.encode("utf-8", "surrogatepass"))

    @seed(args.seed)
    @budget(byte_cases)
    @given(mutated_bytes(byte_seeds))
    def byte_level(data: bytes) -> None:
        run.guard("bytes", lambda: check_bytes(data), data)

    start = time.perf_counter()
    structural()
    structural_cases = run.cases
    byte_level()
    elapsed = time.perf_counter() - start
    print(f"seeds: {len(BUNDLED_SEEDS)} bundled + {len(corpus)} corpus recipes")
    print(f"cases: {run.cases} ({structural_cases} structural, {run.cases - structural_cases} byte-level)")
    print(f"time: {elapsed:.1f} s, {run.cases / elapsed:.0f} cases/s")
    print(f"failures: {len(run.failed)}")
    for line in run.failed[:20]:
        print("  " + line)
    return 1 if run.failed else 0


if __name__ == "__main__":
    sys.exit(main())
