"""Compile the bundled seed recipe at 10 and at 1,000,000 steps per epoch.

Prints the time and plan-size ratios (goal: both <= 1.2): a plan's size and
compile time must depend on the number of schedule changes, not of steps.
Run: .venv/bin/python bench/compile_scale.py
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import recipekit

RECIPE = Path(__file__).resolve().parents[1] / "examples" / "recipe.yaml"
ROUNDS = 15


def measure(steps_per_epoch: int) -> tuple[float, int]:
    start = time.perf_counter()
    plan = recipekit.compile_recipe(RECIPE, steps_per_epoch)
    text = plan.to_json()
    return time.perf_counter() - start, len(text.encode())


def main() -> None:
    measure(10)  # warm caches (schema files, imports) outside the timed rounds
    times: dict[int, list[float]] = {10: [], 1_000_000: []}
    sizes: dict[int, int] = {}
    for _ in range(ROUNDS):  # interleaved, so machine noise hits both alike
        for spe, samples in times.items():
            elapsed, size = measure(spe)
            samples.append(elapsed)
            sizes[spe] = size
    small, large = (statistics.median(times[spe]) for spe in (10, 1_000_000))
    print(f"compile seed recipe, median of {ROUNDS} interleaved rounds")
    print(f"  10 steps/epoch:        {small * 1000:8.2f} ms  {sizes[10]:8d} bytes")
    print(f"  1,000,000 steps/epoch: {large * 1000:8.2f} ms  {sizes[1_000_000]:8d} bytes")
    print(f"  time ratio: {large / small:.3f}   size ratio: {sizes[1_000_000] / sizes[10]:.3f}   (goal <= 1.2)")


if __name__ == "__main__":
    main()
