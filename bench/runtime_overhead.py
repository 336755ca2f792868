"""Runtime overhead per optimizer step on CPU: a bare loop, recipekit's runtime, SparseML's manager.

Everything runs interleaved in one process: every step index runs every configuration on the same
batch, with the order rotated each step, so machine drift hits all alike (perf-baselines §3). Model:
that section's CNN (5x conv3x3+BN+ReLU, Linear 4096->256->10, 2.03 M parameters), batch 16,
3x32x32 inputs, SGD(lr 0.05, momentum 0.9), 1 torch thread. Recipes:

- GM: EpochRange 0-10, LearningRateModifier StepLR (2 epochs, gamma 0.5), GMPruning
  __ALL_PRUNABLE__ 0.05 -> 0.85 over epochs 0-8 updated every epoch;
- CONST: ConstantPruning __ALL_PRUNABLE__ over 0-10 (on a dense model: the cost of holding masks).

Overhead = per-step time / bare-loop time - 1, as the median of the paired per-step ratios, over
every step and over the steps with no schedule change (every change of these recipes falls on an
epoch boundary). Goal (issue 5): our overhead at most half of SparseML's, and under 2 % of a bare
step on steps with no schedule change.

A fourth configuration, "mask floor", is the bare loop plus the one thing an exact runtime cannot
skip: multiplying each pruned weight's gradient by its float mask once per step (a minimal
gradient hook, no schedule). Its overhead, measured in the same run, is the floor for any runtime
that keeps pruned weights at zero; "beyond the floor" is what recipekit adds to it.

Run: .venv/bin/python bench/runtime_overhead.py [--sparseml-python VENV/bin/python] [--steps 200]
SparseML is optional; for it: python -m venv VENV && VENV/bin/pip install torch==2.13.0 &&
VENV/bin/pip install sparseml==1.8.0 sparsezoo==1.8.1 'setuptools<81'.
"""

from __future__ import annotations

import argparse
import copy
import functools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SPE = 20

GM = """
modifiers:
  - !EpochRangeModifier
    start_epoch: 0.0
    end_epoch: {epochs}
  - !LearningRateModifier
    start_epoch: 0.0
    lr_class: StepLR
    lr_kwargs: {{step_size: 2.0, gamma: 0.5}}
    init_lr: 0.05
  - !GMPruningModifier
    params: __ALL_PRUNABLE__
    init_sparsity: 0.05
    final_sparsity: 0.85
    start_epoch: 0.0
    end_epoch: {prune_end}
    update_frequency: 1.0
"""
CONST = """
modifiers:
  - !EpochRangeModifier
    start_epoch: 0.0
    end_epoch: {epochs}
  - !ConstantPruningModifier
    params: __ALL_PRUNABLE__
    start_epoch: 0.0
    end_epoch: {epochs}
"""


def recipes(steps: int) -> dict[str, str]:
    epochs = steps / SPE
    return {"GM": GM.format(epochs=epochs, prune_end=0.8 * epochs), "CONST": CONST.format(epochs=epochs)}


def worker(plans_dir: Path, steps: int, with_sparseml: bool) -> dict[str, Any]:
    """Time every configuration, interleaved; runs in whichever Python has torch (and SparseML)."""
    sys.path.insert(0, str(ROOT))
    import torch
    from torch import nn

    from recipekit.plan.model import load_plan
    from recipekit.runtime import attach

    torch.set_num_threads(1)
    torch.manual_seed(0)

    def block(i: int, o: int, s: int) -> list[nn.Module]:
        return [nn.Conv2d(i, o, 3, s, 1, bias=False), nn.BatchNorm2d(o), nn.ReLU()]

    base = nn.Sequential(
        *block(3, 32, 1), *block(32, 64, 2), *block(64, 128, 2), *block(128, 256, 2), *block(256, 256, 1),
        nn.Flatten(), nn.Linear(256 * 4 * 4, 256), nn.ReLU(), nn.Linear(256, 10),
    )  # fmt: skip
    data = [(torch.randn(16, 3, 32, 32), torch.randint(0, 10, (16,))) for _ in range(SPE)]
    loss_fn = nn.CrossEntropyLoss()
    configs: dict[str, tuple[nn.Module, Any]] = {}

    def fresh() -> tuple[nn.Module, torch.optim.Optimizer]:
        model = copy.deepcopy(base)
        return model, torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)

    configs["bare"] = fresh()
    model, optimizer = fresh()
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            mask = (torch.rand_like(module.weight) >= 0.85).float()
            module.weight.data.mul_(mask)
            module.weight.register_post_accumulate_grad_hook(functools.partial(mask_gradient, mask))  # type: ignore[no-untyped-call]
    configs["mask floor"] = (model, optimizer)
    for name in ("GM", "CONST"):
        model, optimizer = fresh()
        attach(load_plan(plans_dir / f"{name}.json"), model, optimizer)
        configs[f"recipekit {name}"] = (model, optimizer)
    if with_sparseml:
        os.environ.setdefault("NM_DISABLE_ANALYTICS", "1")
        os.environ.setdefault("NM_TEST_MODE", "1")
        os.environ.setdefault("NM_TEST_LOG_DIR", tempfile.mkdtemp())
        warnings.filterwarnings("ignore")
        from sparseml.pytorch.optim import ScheduledModifierManager

        for name, text in recipes(steps).items():
            model, optimizer = fresh()
            manager = ScheduledModifierManager.from_yaml(text)
            configs[f"SparseML {name}"] = (model, manager.modify(model, optimizer, steps_per_epoch=SPE))

    def step(model: nn.Module, optimizer: Any, x: torch.Tensor, y: torch.Tensor) -> None:
        optimizer.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        optimizer.step()

    names = list(configs)
    times: dict[str, list[float]] = {name: [] for name in names}
    for i in range(steps):
        x, y = data[i % SPE]
        k = i % len(names)
        for name in names[k:] + names[:k]:
            start = time.perf_counter()
            step(*configs[name], x, y)
            times[name].append(time.perf_counter() - start)

    def sparsity(model: nn.Module) -> float:
        weights = [m.weight for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
        return sum(int((w == 0).sum()) for w in weights) / sum(w.numel() for w in weights)

    return {
        "torch": torch.__version__,
        "times": times,
        "final_sparsity": {name: round(sparsity(model), 4) for name, (model, _) in configs.items()},
        "final_lr": {name: optimizer.param_groups[0]["lr"] for name, (_, optimizer) in configs.items()},
    }


def mask_gradient(mask: Any, param: Any) -> None:
    param.grad.mul_(mask)


def overhead(times: dict[str, list[float]], name: str, steps: list[int]) -> float:
    return statistics.median(times[name][i] / times["bare"][i] for i in steps) - 1.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sparseml-python", help="a Python with sparseml==1.8.0 and torch==2.13.0 installed")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--with-sparseml", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        print(json.dumps(worker(args.worker, args.steps, args.with_sparseml)))
        return 0

    import recipekit

    with tempfile.TemporaryDirectory() as plans:
        for name, text in recipes(args.steps).items():
            (Path(plans) / f"{name}.json").write_text(recipekit.compile_recipe(text, SPE).to_json(), encoding="utf-8")
        if args.sparseml_python:
            command = [args.sparseml_python, __file__, "--worker", plans, "--steps", str(args.steps), "--with-sparseml"]
            completed = subprocess.run(command, capture_output=True, text=True, check=False)
            if completed.returncode:
                print(completed.stderr, file=sys.stderr)
                return completed.returncode
            result = json.loads(completed.stdout.strip().splitlines()[-1])
        else:
            result = worker(Path(plans), args.steps, with_sparseml=False)
    times = result["times"]
    every = list(range(args.steps))
    steady = [i for i in every if i % SPE]
    bare_ms = statistics.median(times["bare"]) * 1e3
    print(f"torch {result['torch']}, {args.steps} steps, {SPE} steps/epoch, 1 thread; bare step median {bare_ms:.1f} ms")
    print(f"{'configuration':<18} {'overhead, all steps':>20} {'no schedule change':>20} {'final sparsity':>15} {'final lr':>10}")
    for name in times:
        if name == "bare":
            continue
        print(
            f"{name:<18} {overhead(times, name, every):>19.2%} {overhead(times, name, steady):>19.2%} "
            f"{result['final_sparsity'][name]:>15.4f} {result['final_lr'][name]:>10.6f}"
        )
    for recipe in ("GM", "CONST"):
        if f"SparseML {recipe}" in times:
            ours, theirs = overhead(times, f"recipekit {recipe}", steady), overhead(times, f"SparseML {recipe}", steady)
            print(f"{recipe}: recipekit / SparseML overhead on steps with no schedule change = {ours / theirs:.2f} (goal <= 0.5)")
            total_ours = sum(times[f"recipekit {recipe}"]) / sum(times["bare"]) - 1
            total_theirs = sum(times[f"SparseML {recipe}"]) / sum(times["bare"]) - 1
            print(f"{recipe}: recipekit / SparseML overhead in total time = {total_ours / total_theirs:.2f} (goal <= 0.5)")
    ours, floor = overhead(times, "recipekit GM", steady), overhead(times, "mask floor", steady)
    print(f"recipekit GM on steps with no schedule change: {ours:.2%} of a bare step (goal < 2 %)")
    print(f"  of which the one-pass mask floor measured in this run: {floor:.2%}; beyond the floor: {ours - floor:+.2%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
