"""Time one M-FAC pruning update, recipekit's against SparseML 1.8's, on a BERT-base-sized layer.

One update = the inverse Fisher from ``num_grads`` buffered gradients (SparseML's CPU
``FisherInverseFastSmallBlocks`` with ``fisher_block_size`` 50, and the unblocked
``FisherInverseFast``), the scores, the mask (SparseML's rule) and the compensating
weight update, on a 768x768 layer (num_grads 64, damp 1e-5 as a float). Both run in the
same process, interleaved (ours, theirs, ours, ...) on the same inputs, so machine
load hits both alike; the ratio is median(ours) / median(theirs) (goal <= 1.0). It
also prints the memory the Fisher blocks hold and the temporary of one rank-one update
(recipekit updates whole blocks, a cache-sized group at a time; SparseML one row of every block).

Run: .venv/bin/python bench/mfac_update.py [--sparseml-python VENV/bin/python] [--repeats 3]
(with --sparseml-python the benchmark re-runs itself under that Python, which needs
torch==2.13.0 and sparseml==1.8.0; recipekit is imported from this checkout).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
ROWS, COLS = 768, 768
NUM_GRADS, DAMP, SPARSITY = 64, 1e-5, 0.5
BLOCKS: list[int | None] = [50, None]


def ours(weight: Any, grads: list[Any], block: int | None) -> Any:
    import torch

    from recipekit.runtime.algorithms import mask_creators, mfac

    param = weight.clone()
    ones = torch.ones_like(param)
    ring = mfac.Ring([ones], NUM_GRADS)
    for grad in grads:
        ring.add([grad])
    finv = mfac.inverse(ring.buffer, block, DAMP)
    scores, diag = mfac.scores([param], ring, finv)
    masks = mask_creators.unstructured(scores, [SPARSITY], False)
    mfac.compensate([param], [mask_creators.mask_difference(ones, masks[0])], ring, finv, diag)
    size = finv.hinv.element_size() * finv.hinv.numel() if isinstance(finv, mfac.SmallBlocks) else 0
    return param.mul_(masks[0]), size


def theirs(weight: Any, grads: list[Any], block: int | None) -> Any:
    import torch
    from sparseml.pytorch.sparsification.pruning.mask_creator import UnstructuredPruningMaskCreator
    from sparseml.pytorch.sparsification.pruning.modifier_pruning_mfac import MFACPruningParamsScorer

    param = torch.nn.Parameter(weight.clone())
    scorer = MFACPruningParamsScorer([param], NUM_GRADS, DAMP, block, 1, ["cpu"] if block else [])
    ones = torch.ones_like(param)
    for grad in grads:
        param.grad = grad.clone()
        scorer.pre_optim_step_update([ones])
    scores = scorer.score_parameters()
    masks = UnstructuredPruningMaskCreator().create_sparsity_masks(scores, [SPARSITY], False)
    scorer.mask_update(masks, [masks[0] - ones])
    return param.data.mul_(masks[0]), None


def run(repeats: int, with_sparseml: bool) -> None:
    import torch

    generator = torch.Generator().manual_seed(0)
    weight = torch.randn(ROWS, COLS, generator=generator) * 0.02
    grads = [torch.randn(ROWS, COLS, generator=generator) * 1e-3 for _ in range(NUM_GRADS)]
    for block in BLOCKS:
        times: dict[str, list[float]] = {"ours": [], "sparseml": []}
        results: dict[str, Any] = {}
        fisher_bytes = 0
        for _ in range(repeats):
            for name, function in (("ours", ours), ("sparseml", theirs)):
                if name == "sparseml" and not with_sparseml:
                    continue
                start = time.perf_counter()
                result, size = function(weight, grads, block)
                times[name].append(time.perf_counter() - start)
                results[name] = result
                fisher_bytes = size or fisher_bytes
        kind = f"SmallBlocks B={block}" if block else "Fast (unblocked)"
        line = f"{COLS}x{ROWS} {kind}: ours {statistics.median(times['ours']):.3f} s"
        if with_sparseml:
            ratio = statistics.median(times["ours"]) / statistics.median(times["sparseml"])
            same = torch.equal(results["ours"], results["sparseml"])
            line += f", SparseML {statistics.median(times['sparseml']):.3f} s, ratio {ratio:.2f} (weights equal: {same})"
        if block:
            # Beyond the blocks, one update's temporary: CHUNK_BYTES (ours), one row of every block (SparseML's).
            from recipekit.runtime.algorithms.mfac import CHUNK_BYTES

            row = fisher_bytes // block
            line += f"; Fisher blocks {fisher_bytes / 2**20:.0f} MiB"
            line += f", update temporary {CHUNK_BYTES / 2**20:.1f} MiB (SparseML {row / 2**20:.1f} MiB)"
        else:
            line += f"; H^-1 g rows {NUM_GRADS * ROWS * COLS * 4 / 2**20:.0f} MiB (the buffer, overwritten in place)"
        print(line, flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sparseml-python", help="a Python with sparseml==1.8.0 and torch==2.13.0 installed")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--with-sparseml", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sparseml_python:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "NM_DISABLE_ANALYTICS": "1", "NM_TEST_MODE": "1"}
        command = [args.sparseml_python, str(Path(__file__).resolve()), "--with-sparseml", "--repeats", str(args.repeats)]
        return subprocess.run(command, env=env, check=False).returncode
    sys.path.insert(0, str(ROOT))
    note = f"median of {args.repeats}, interleaved" if args.with_sparseml else f"median of {args.repeats} (no SparseML given)"
    print(f"M-FAC update: num_grads {NUM_GRADS}, damp {DAMP}, sparsity {SPARSITY}, {note}")
    run(args.repeats, args.with_sparseml)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
