"""SparseML 1.8.0's LayerPruningModifier: which forward passes ran without the layers (issue 12).

Cases: start in {-1, 0, 1, 0.5} with end in {-1, 2}; a module called with two positional
arguments (SparseML's Identity returns them as a tuple). tests/test_layer_pruning.py replays
each through recipekit and compares, after every step and after finalize, the module class
at every name, the ``state_dict`` keys, the parameters (those of removed layers too) and the loss.
"""

from __future__ import annotations

from pathlib import Path

from sparseml_fixtures.steps import prepare, record

RECIPE = """
modifiers:
  - !EpochRangeModifier
    start_epoch: 0.0
    end_epoch: 4.0
  - !LayerPruningModifier
    layers: {layers}
    start_epoch: {start}
    end_epoch: {end}
"""


def main(out: Path) -> None:
    prepare()
    for start, end in [(-1, -1), (-1, 2), (0, -1), (0, 2), (1, -1), (1, 2), (0.5, 1.5)]:
        tag = f"s{start}_e{end}".replace("-", "m").replace(".", "p")
        record(f"layers_{tag}", RECIPE.format(layers="['2']", start=float(start), end=float(end)), out, kind="deep")
    record("layers_two_args", RECIPE.format(layers="['mix']", start=1.0, end=2.0), out, kind="two_arg")
    record("layers_two_modules", RECIPE.format(layers="['2', '3']", start=1.0, end=3.0), out, kind="deep")
