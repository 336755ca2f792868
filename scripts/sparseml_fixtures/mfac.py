"""SparseML 1.8.0's MFACPruningModifier on the CPU (issue 12, reference §3).

Sampler mode with one Fisher block per call (B = 2000, layer-wise), blocks that span
parameters (B = 7, global), the unblocked ``FisherInverseFast`` (``fisher_block_size: null``
with ``available_devices: []``), block4 masks and a ``num_grads`` dict; buffering mode (no
sampler) starting at step 6 with a ring of 4 (rows = steps 4, 5, 6, 3). tests/test_mfac.py
replays each through recipekit with ``torch.equal`` on parameters and masks after every step.
The crashes recipekit refuses at compile time are run too and their exceptions printed.
"""

from __future__ import annotations

from pathlib import Path

from sparseml_fixtures.steps import prepare, raises, record

RECIPE = """
modifiers:
  - !EpochRangeModifier
    start_epoch: 0.0
    end_epoch: {epochs}
  - !MFACPruningModifier
    params: ['0.weight', '2.weight']
    init_sparsity: {init}
    final_sparsity: 0.75
    start_epoch: {start}
    end_epoch: {end}
    update_frequency: {frequency}
    num_grads: {num_grads}
    damp: 0.0001
    fisher_block_size: {block}{extra}
"""


def mfac(
    block: str, extra: str = "", *, num_grads: str = "8", init: float = 0.5, start: float = 1.0, end: float = 3.0, frequency: float = 1.0
) -> str:
    return RECIPE.format(
        block=block, extra=extra, init=init, num_grads=num_grads, start=start, end=end, frequency=frequency, epochs=end + 1
    )


def main(out: Path) -> None:
    prepare()
    record("mfac_b2000_layerwise", mfac("2000"), out, samples=8)
    record("mfac_b7_global", mfac("7", "\n    global_sparsity: true"), out, samples=8)
    record("mfac_fast", mfac("null", "\n    available_devices: []"), out, samples=8)
    record("mfac_block4_b8", mfac("8", "\n    mask_type: block4"), out, samples=8)
    record("mfac_dict_b7", mfac("7", num_grads="{0.0: 4, 0.5: 6}", init=0.3), out, samples=8)
    record("mfac_buffering_ring", mfac("5", num_grads="4", start=3.0, end=5.0, frequency=2.0), out, steps=12)
    raises("mfac_buffering_start0", mfac("5", num_grads="4", start=0.0, end=2.0))
    raises("mfac_null_block_cpu", mfac("null"), samples=8)
    raises("mfac_string_damp", mfac("8").replace("0.0001", "1e-4"), samples=8)
