"""SparseML 1.8.0's ACDCPruningModifier over several compression/decompression cycles (issue 12).

Cases: the reference's start 1 / end 6 / phase 1 at 2 steps per epoch (D C D C C, end C) with SGD
momentum; end 5 (phase parity: D C D C, end C); two-epoch phases from epoch 0 (the first update a
D phase with nothing to reset); ``momentum_buffer_reset: false``; Adam (moments never reset);
layer-wise block4 masks. tests/test_acdc.py replays each through recipekit with ``torch.equal``
on parameters, masks and optimizer state after every step.
"""

from __future__ import annotations

from pathlib import Path

from sparseml_fixtures.steps import prepare, raises, record

RECIPE = """
modifiers:
  - !EpochRangeModifier
    start_epoch: 0.0
    end_epoch: {epochs}
  - !ACDCPruningModifier
    params: ['0.weight', '2.weight']
    compression_sparsity: 0.75
    start_epoch: {start}
    end_epoch: {end}
    update_frequency: {phase}{extra}
"""


def acdc(start: float, end: float, phase: float, epochs: float, extra: str = "") -> str:
    return RECIPE.format(start=start, end=end, phase=phase, epochs=epochs, extra=extra)


def main(out: Path) -> None:
    prepare()
    record("acdc_s1_e6", acdc(1, 6, 1, 7.0), out, steps=14)
    record("acdc_s1_e5_parity", acdc(1, 5, 1, 6.0), out, steps=12)
    record("acdc_s0_e8_phase2", acdc(0, 8, 2, 9.0), out, steps=18)
    record("acdc_no_reset", acdc(1, 6, 1, 7.0, "\n    momentum_buffer_reset: false"), out, steps=14)
    record("acdc_adam", acdc(1, 6, 1, 7.0), out, steps=14, optimizer="adam")
    record("acdc_block4_layerwise", acdc(1, 5, 1, 6.0, "\n    mask_type: block4\n    global_sparsity: false"), out, steps=12)
    record("acdc_spe3", acdc(1, 5, 1, 6.0), out, steps=18, spe=3)
    raises("acdc_fractional_phase", acdc(1, 5, 1.5, 6.0))
