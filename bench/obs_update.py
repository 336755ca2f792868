"""Time one OBS pruning update, recipekit's against SparseML 1.8's, on BERT-base-sized layers.

One update = ``num_grads`` rank-one updates of the block Fisher inverse, the scores,
the mask (SparseML's rule) and the compensating weight update, for a 768x768 and a
768x3072 layer (num_grads 64, fisher_block_size 50, damp 1e-7). Both run in the
same process, interleaved (ours, theirs, ours, ...) on the same inputs, so machine
load hits both alike; the ratio is median(ours) / median(theirs) (goal <= 1.0).
It also prints the memory the Fisher blocks hold. M-FAC is not timed: the recipekit
runtime does not execute it yet.

Run: .venv/bin/python bench/obs_update.py [--sparseml-python VENV/bin/python] [--repeats 3]
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
SHAPES = [(768, 768), (3072, 768)]
NUM_GRADS, BLOCK, DAMP, SPARSITY = 64, 50, 1e-7, 0.5


def ours(weight: Any, grads: list[Any]) -> Any:
    import torch

    from recipekit.runtime.algorithms import mask_creators, obs

    param = weight.clone()
    finv = obs.BlockFisherInverse(NUM_GRADS, BLOCK, param.numel(), DAMP)
    for grad in grads:
        finv.add_grad(grad.reshape(-1))
    scores, _ = obs.scores(param, finv, torch.ones_like(param), "unstructured")
    (mask,) = mask_creators.unstructured([scores], [SPARSITY], True)
    pruned = mask_creators.mask_difference(torch.ones_like(mask), mask)
    obs.apply_update(param, obs.update(param, finv, pruned, "unstructured", None), pruned)
    return param.mul_(mask), finv.f_inv.element_size() * finv.f_inv.numel()


def theirs(weight: Any, grads: list[Any]) -> Any:
    import torch
    from sparseml.pytorch.sparsification.pruning.mask_creator import UnstructuredPruningMaskCreator
    from sparseml.pytorch.sparsification.pruning.modifier_pruning_obs import OBSPruningParamsScorer

    param = torch.nn.Parameter(weight.clone())
    scorer = OBSPruningParamsScorer([param], NUM_GRADS, DAMP, BLOCK, "unstructured")
    scorer._enabled_grad_buffering = True
    ones = torch.ones_like(param)
    for grad in grads:
        param.grad = grad.clone()
        scorer.pre_optim_step_update([ones])
    scores = scorer.score_parameters()
    masks = UnstructuredPruningMaskCreator().create_sparsity_masks(scores, [SPARSITY], True)
    scorer.mask_update(masks, [masks[0] - ones])
    return param.data.mul_(masks[0]), None


def run(repeats: int, with_sparseml: bool) -> None:
    import torch

    os.environ.setdefault("MEMORY_BOUNDED", "True")  # what constructing SparseML's OBS modifier sets
    generator = torch.Generator().manual_seed(0)
    for rows, cols in SHAPES:
        weight = torch.randn(rows, cols, generator=generator) * 0.02
        grads = [torch.randn(rows, cols, generator=generator) * 1e-3 for _ in range(NUM_GRADS)]
        times: dict[str, list[float]] = {"ours": [], "sparseml": []}
        results: dict[str, Any] = {}
        fisher_bytes = 0
        for _ in range(repeats):
            for name, function in (("ours", ours), ("sparseml", theirs)):
                if name == "sparseml" and not with_sparseml:
                    continue
                start = time.perf_counter()
                result, size = function(weight, grads)
                times[name].append(time.perf_counter() - start)
                results[name] = result
                fisher_bytes = size or fisher_bytes
        line = f"{cols}x{rows}: ours {statistics.median(times['ours']):.3f} s"
        if with_sparseml:
            ratio = statistics.median(times["ours"]) / statistics.median(times["sparseml"])
            same = torch.equal(results["ours"], results["sparseml"])
            line += f", SparseML {statistics.median(times['sparseml']):.3f} s, ratio {ratio:.2f} (weights equal: {same})"
        print(f"{line}; Fisher blocks {fisher_bytes / 2**20:.0f} MiB", flush=True)


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
    print(f"OBS update: num_grads {NUM_GRADS}, fisher_block_size {BLOCK}, damp {DAMP}, sparsity {SPARSITY}, {repeats_note(args)}")
    run(args.repeats, args.with_sparseml)
    return 0


def repeats_note(args: argparse.Namespace) -> str:
    return f"median of {args.repeats}, interleaved" if args.with_sparseml else f"median of {args.repeats} (no SparseML given)"


if __name__ == "__main__":
    raise SystemExit(main())
