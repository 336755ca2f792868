"""Fixtures for issue 22, item 1: two or more pruning modifiers on one parameter, as SparseML 1.8.0 ran them.

``training.pt``: recipes whose pruning modifiers share parameters, run through ``manager.modify``
on a tiny MLP with fixed weights (continuous values and a share of exact zeros, so masks meet
ties at zero) and a fixed gradient stream (``loss = sum(p * G_k)``: backward and SparseML's
gradient hooks run). After every step: each pruning modifier's own mask and whether it is
enabled, the weights and the SGD momentum buffers; the final weights; the manager's order.

The runs: two GMPruning modifiers with the same schedule and different targets (the lower
first in the manager's order, and the higher first, as in yolact.pruned.perf.md), two with different update frequencies and windows, one
whose lower target comes later and is released (``leave_enabled: false``), Movement + GMPruning,
AC/DC + GMPruning, and a ConstantPruning + GMPruning pair each way round.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from sparseml_fixtures.common import deterministic

SPE = 2
LR = 0.1
MOMENTUM = 0.9

_RANGE = """
modifiers:
  - !EpochRangeModifier
    start_epoch: 0.0
    end_epoch: 4.0
"""


def _gm(params: str, init: float, final: float, start: float, end: float, freq: float, extra: str = "") -> str:
    return f"""  - !GMPruningModifier
    params: {params}
    init_sparsity: {init}
    final_sparsity: {final}
    start_epoch: {start}
    end_epoch: {end}
    update_frequency: {freq}
{extra}"""


def _constant(params: str, start: float, end: float) -> str:
    return f"""  - !ConstantPruningModifier
    params: {params}
    start_epoch: {start}
    end_epoch: {end}
"""


def _other(kind: str, params: str, body: str) -> str:
    return f"  - !{kind}\n    params: {params}\n{body}"


BOTH = '["0.weight", "2.weight"]'
FIRST = '["0.weight"]'

RECIPES = {
    # Same epochs and frequency, two targets, one shared tensor; the manager's order (identifiers)
    # puts the lower target first here, the higher one first in the next (yolact.pruned.perf.md's
    # 0.87 and 0.92, whose manager order was 0.92 first).
    "same schedule, the lower target first": _RANGE + _gm(BOTH, 0.35, 0.6, 0.0, 3.0, 0.5) + _gm(FIRST, 0.35, 0.85, 0.0, 3.0, 0.5),
    "same schedule, the higher target first": _RANGE + _gm(BOTH, 0.35, 0.87, 0.0, 3.0, 0.5) + _gm(FIRST, 0.35, 0.92, 0.0, 3.0, 0.5),
    "same schedule, init below the zeros": _RANGE + _gm(BOTH, 0.05, 0.5, 0.0, 3.0, 0.5) + _gm(FIRST, 0.05, 0.8, 0.0, 3.0, 0.5),
    "different update frequencies": _RANGE + _gm(BOTH, 0.1, 0.5, 0.0, 3.0, 0.5) + _gm(FIRST, 0.3, 0.8, 0.5, 2.5, 1.0),
    "lower target later, released": _RANGE
    + _gm(FIRST, 0.2, 0.7, 0.0, 2.0, 0.5)
    + _gm(BOTH, 0.1, 0.4, 1.0, 3.5, 0.5, "    leave_enabled: false\n"),
    # Other algorithms SparseML let overlap: each modifier's scorer sees its own masks.
    "movement and GM": _RANGE
    + _other(
        "MovementPruningModifier",
        BOTH,
        "    init_sparsity: 0.1\n    final_sparsity: 0.6\n    start_epoch: 0.0\n    end_epoch: 3.0\n    update_frequency: 0.5\n",
    )
    + _gm(FIRST, 0.3, 0.8, 0.5, 2.5, 0.5),
    "AC/DC and GM": _RANGE
    + _other(
        "ACDCPruningModifier", BOTH, "    compression_sparsity: 0.6\n    start_epoch: 0.0\n    end_epoch: 3.0\n    update_frequency: 1.0\n"
    )
    + _gm(FIRST, 0.3, 0.8, 0.5, 2.5, 0.5),
    "constant, then GM": _RANGE + _constant(FIRST, 0.0, 3.0) + _gm(BOTH, 0.3, 0.7, 0.5, 2.5, 0.5),
    "GM released, then constant": _RANGE + _gm(FIRST, 0.1, 0.6, 0.0, 2.0, 0.5, "    leave_enabled: false\n") + _constant(BOTH, 1.0, 3.5),
}


def _initial() -> dict[str, torch.Tensor]:
    """Continuous weights (no ties but zero) with about 20% exact zeros in the weights."""
    g = torch.Generator().manual_seed(50)
    out = {}
    for name, shape in (("0.weight", (8, 8)), ("0.bias", (8,)), ("2.weight", (4, 8)), ("2.bias", (4,))):
        w = torch.randn(shape, generator=g)
        if name.endswith("weight"):
            w = torch.where(torch.rand(shape, generator=g) < 0.2, torch.zeros(shape), w)
        out[name] = w
    return out


def _mlp() -> nn.Sequential:
    return nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 4))


def training() -> dict[str, Any]:
    from sparseml.pytorch.optim import ScheduledModifierManager

    initial = _initial()
    runs = {}
    for name, recipe in RECIPES.items():
        model = _mlp()
        model.load_state_dict(initial)
        optimizer = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
        manager = ScheduledModifierManager.from_yaml(recipe)
        total = round(manager.max_epochs * SPE)
        g = torch.Generator().manual_seed(51)
        grads = {k: torch.randn((total, *v.shape), generator=g) for k, v in initial.items()}
        wrapped = manager.modify(model, optimizer, steps_per_epoch=SPE)
        pruners = [m for m in manager.modifiers if hasattr(m, "_module_masks")]
        order = [{"type": type(m).__name__, "final_sparsity": getattr(m, "final_sparsity", None), "params": m.params} for m in pruners]
        params = dict(model.named_parameters())
        # Per modifier (manager order), per parameter it masks: its own mask and whether enabled, after every step.
        masks: list[dict[str, list[torch.Tensor]]] = [{n: [] for n in m._module_masks.names} for m in pruners]
        enabled: list[list[bool]] = [[] for _ in pruners]
        weights: dict[str, list[torch.Tensor]] = {n: [] for n in params}
        momentum: dict[str, list[torch.Tensor]] = {n: [] for n in params}
        for k in range(total):
            optimizer.zero_grad(set_to_none=True)
            loss = sum((params[n] * grads[n][k]).sum() for n in params)
            loss.backward()
            wrapped.step()
            for i, modifier in enumerate(pruners):
                enabled[i].append(bool(modifier._module_masks.enabled))
                for mask_name, mask in zip(modifier._module_masks.names, modifier._module_masks.param_masks, strict=True):
                    masks[i][mask_name].append(mask.clone())
            for n, p in params.items():
                weights[n].append(p.detach().clone())
                momentum[n].append(optimizer.state[p]["momentum_buffer"].clone())
        steps = {
            # "<layer>.<param>.sparsity_mask" -> the parameter's name.
            "masks": [{n.removesuffix(".sparsity_mask"): torch.stack(v).bool() for n, v in per.items()} for per in masks],
            "enabled": enabled,
            "weights": {n: torch.stack(v) for n, v in weights.items()},
            "momentum": {n: torch.stack(v) for n, v in momentum.items()},
        }
        manager.finalize(model)
        final = {n: p.detach().clone() for n, p in model.named_parameters()}
        runs[name] = {"recipe": recipe, "grads": grads, "order": order, "steps": steps, "final": final}
    return {"initial": initial, "steps_per_epoch": SPE, "lr": LR, "momentum": MOMENTUM, "runs": runs}


def main(out: Path) -> None:
    deterministic()
    torch.save(training(), out / "training.pt")
