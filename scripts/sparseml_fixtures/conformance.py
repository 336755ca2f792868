"""Fixtures for issue 16's conformance items, from SparseML 1.8.0 itself.

- ``mask_creators.pt``: SparseML's mask creators on fixed weights: ties at the minimum (its
  ``random.Random(42)`` path) and at a non-minimum threshold (row-major flips), global sparsity,
  ``block4`` with an input size that is not a multiple of 4, ``[2, 2]``, ``[4, 1]``, ``[1, -1]``
  over tensors of different widths, N:M with ties, and N:M on a conv (SparseML's mask has the
  wrong shape there: recipekit refuses it).
- ``training.pt``: GMPruning runs through ``manager.modify`` on a tiny MLP with fixed weights and a
  fixed gradient stream (``loss = sum(p * G_k)``, so backward and SparseML's gradient hooks run):
  masks, weights and SGD momentum buffers after every step, for ties at zero, ties at a non-zero
  threshold, a recipe whose sparsity goes down, a ``leave_enabled: false`` release and ``[2, 2]``.
- ``identifiers.json``: two tied GMPruning modifiers whose file order and identifier order differ:
  SparseML's ``identifier()`` of each, its ``props(format_str=True)`` and the manager's order.
- ``qat.pt``: the legacy QuantizationModifier with ``custom_quantizable_module_types: [SiLU]``, and
  a QuantizationModifier whose observers are disabled at the epoch QAT starts: outputs per step,
  final weights, every FakeQuantize's scale, zero point and whether it ever observed.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import torch
from torch import nn

from sparseml_fixtures.common import deterministic, patch_qconfig, write_json


def _weights(shape: tuple[int, ...], levels: int, zeros: float, seed: int) -> torch.Tensor:
    """Weights on a coarse grid (many exact ties) with a share of exact zeros."""
    g = torch.Generator().manual_seed(seed)
    w = torch.randint(1, levels + 1, shape, generator=g).float() / levels
    w = w * torch.where(torch.rand(shape, generator=g) < 0.5, -1.0, 1.0)
    return torch.where(torch.rand(shape, generator=g) < zeros, torch.zeros(shape), w)


def mask_creators() -> list[dict[str, Any]]:
    from sparseml.pytorch.sparsification.pruning.mask_creator import get_mask_creator_default

    cases = [
        ("unstructured ties at the minimum", "unstructured", False, 0.3, [_weights((6, 8), 4, 0.5, 1)]),
        ("unstructured ties at a non-minimum threshold", "unstructured", False, 0.45, [_weights((6, 8), 3, 0.0, 2)]),
        ("unstructured global, ties at both", "unstructured", True, 0.55, [_weights((4, 6), 3, 0.2, 3), _weights((5, 4), 3, 0.2, 4)]),
        ("unstructured global, ties at the minimum", "unstructured", True, 0.2, [_weights((4, 6), 3, 0.4, 5), _weights((5, 4), 3, 0.4, 6)]),
        ("block4, input size 6", "block4", False, 0.5, [_weights((4, 6), 5, 0.1, 7)]),
        ("block4 on a conv, 6 input channels", "block4", False, 0.5, [_weights((4, 6, 3, 3), 5, 0.1, 8)]),
        ("block4 global", "block4", True, 0.4, [_weights((4, 7), 5, 0.1, 9), _weights((3, 8), 5, 0.1, 10)]),
        ("[2, 2] linear", [2, 2], False, 0.5, [_weights((6, 6), 7, 0.0, 11)]),
        ("[2, 2] conv", [2, 2], False, 0.5, [_weights((4, 6, 3, 3), 7, 0.0, 12)]),
        ("[4, 1] linear", [4, 1], False, 0.5, [_weights((8, 6), 7, 0.0, 13)]),
        ("[1, -1] two widths", [1, -1], False, 0.5, [_weights((4, 4), 7, 0.0, 14), _weights((6, 8), 7, 0.0, 15)]),
        ("2:4 linear with ties", "2:4", False, 0.5, [_weights((4, 8), 2, 0.2, 16)]),
        ("tensorrt linear with ties", "tensorrt", False, 0.5, [_weights((3, 8), 2, 0.3, 17)]),
        ("1:4 linear, groups span rows", "1:4", False, 0.75, [_weights((2, 6), 3, 0.0, 18)]),
        ("2:4 conv", "2:4", False, 0.5, [_weights((4, 8, 3, 3), 5, 0.0, 19)]),
    ]
    out = []
    for name, mask_type, global_sparsity, target, tensors in cases:
        creator = get_mask_creator_default(copy.deepcopy(mask_type))
        scores = [t.abs() for t in tensors]
        try:
            masks = creator.create_sparsity_masks(scores, target, global_sparsity=global_sparsity)
            result: dict[str, Any] = {"masks": [m.clone() for m in masks]}
        except (ValueError, NotImplementedError) as error:
            result = {"error": f"{type(error).__name__}: {error}"}
        case = {"name": name, "mask_type": mask_type, "global_sparsity": global_sparsity, "target": target, "tensors": tensors}
        out.append({**case, **result})
    return out


MLP_RECIPES = {
    "ties at zero": """
modifiers:
  - !EpochRangeModifier
    start_epoch: 0.0
    end_epoch: 4.0
  - !GMPruningModifier
    params: ["0.weight", "2.weight"]
    init_sparsity: 0.2
    final_sparsity: 0.6
    start_epoch: 1.0
    end_epoch: 3.0
    update_frequency: 0.5
""",
    "ties at a non-zero threshold, global": """
modifiers:
  - !EpochRangeModifier
    start_epoch: 0.0
    end_epoch: 4.0
  - !GlobalMagnitudePruningModifier
    params: ["0.weight", "2.weight"]
    init_sparsity: 0.3
    final_sparsity: 0.7
    start_epoch: 0.5
    end_epoch: 2.5
    update_frequency: 0.5
""",
    "sparsity goes down": """
modifiers:
  - !EpochRangeModifier
    start_epoch: 0.0
    end_epoch: 4.0
  - !GMPruningModifier
    params: ["0.weight", "2.weight"]
    init_sparsity: 0.7
    final_sparsity: 0.3
    start_epoch: 1.0
    end_epoch: 3.0
    update_frequency: 0.5
    inter_func: linear
""",
    "leave_enabled false": """
modifiers:
  - !EpochRangeModifier
    start_epoch: 0.0
    end_epoch: 4.0
  - !GMPruningModifier
    params: ["0.weight", "2.weight"]
    init_sparsity: 0.3
    final_sparsity: 0.6
    start_epoch: 0.5
    end_epoch: 2.0
    update_frequency: 0.5
    leave_enabled: false
""",
    "block [2, 2]": """
modifiers:
  - !EpochRangeModifier
    start_epoch: 0.0
    end_epoch: 3.0
  - !GMPruningModifier
    params: ["0.weight", "2.weight"]
    init_sparsity: 0.25
    final_sparsity: 0.5
    start_epoch: 0.5
    end_epoch: 2.0
    update_frequency: 0.5
    mask_type: [2, 2]
""",
}
SPE = 2


def _mlp() -> nn.Sequential:
    return nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 4))


def training() -> dict[str, Any]:
    from sparseml.pytorch.optim import ScheduledModifierManager

    initial = {
        "0.weight": _weights((8, 8), 4, 0.3, 20),
        "0.bias": _weights((8,), 4, 0.0, 21),
        "2.weight": _weights((4, 8), 4, 0.3, 22),
        "2.bias": _weights((4,), 4, 0.0, 23),
    }
    runs = {}
    for name, recipe in MLP_RECIPES.items():
        model = _mlp()
        model.load_state_dict(initial)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        manager = ScheduledModifierManager.from_yaml(recipe)
        total = round(manager.max_epochs * SPE)
        g = torch.Generator().manual_seed(30)
        grads = {k: torch.randn((total, *v.shape), generator=g) for k, v in initial.items()}
        wrapped = manager.modify(model, optimizer, steps_per_epoch=SPE)
        pruner = next(m for m in manager.modifiers if hasattr(m, "_module_masks"))
        params = dict(model.named_parameters())
        masks: dict[str, list[torch.Tensor]] = {"0.weight": [], "2.weight": []}
        weights: dict[str, list[torch.Tensor]] = {n: [] for n in params}
        momentum: dict[str, list[torch.Tensor]] = {n: [] for n in params}
        for k in range(total):
            optimizer.zero_grad(set_to_none=True)
            loss = sum((params[n] * grads[n][k]).sum() for n in params)
            loss.backward()
            wrapped.step()
            for n, m in zip(masks, pruner._module_masks.param_masks, strict=True):
                masks[n].append(m.clone())
            for n, p in params.items():
                weights[n].append(p.detach().clone())
                momentum[n].append(optimizer.state[p]["momentum_buffer"].clone())
        # One stacked tensor per parameter, indexed by step: the file stays a few KB.
        steps = {
            "masks": {n: torch.stack(v).bool() for n, v in masks.items()},
            "weights": {n: torch.stack(v) for n, v in weights.items()},
            "momentum": {n: torch.stack(v) for n, v in momentum.items()},
        }
        manager.finalize(model)
        final = {n: p.detach().clone() for n, p in model.named_parameters()}
        runs[name] = {"recipe": recipe, "grads": grads, "steps": steps, "final": final}
    return {"initial": initial, "steps_per_epoch": SPE, "lr": 0.1, "momentum": 0.9, "runs": runs}


TIED = """
modifiers:
  - !EpochRangeModifier
    start_epoch: 0.0
    end_epoch: 3.0
  - !GMPruningModifier
    params: ["0.weight"]
    init_sparsity: 0.05
    final_sparsity: {a}
    start_epoch: 0.0
    end_epoch: 2.0
    update_frequency: 0.5
  - !GMPruningModifier
    params: ["0.weight"]
    init_sparsity: 0.05
    final_sparsity: {b}
    start_epoch: 0.0
    end_epoch: 2.0
    update_frequency: 0.5
"""


def identifiers() -> dict[str, Any]:
    """Two tied modifiers whose identifier order is the reverse of file order, found by search."""
    from sparseml.pytorch.optim import ScheduledModifierManager

    for a, b in [(0.5, 0.8), (0.8, 0.5), (0.6, 0.9), (0.9, 0.6)]:
        recipe = TIED.format(a=a, b=b)
        manager = ScheduledModifierManager.from_yaml(recipe)
        pruners = [m for m in manager.modifiers if type(m).__name__ == "GMPruningModifier"]
        if pruners[0].final_sparsity == b:  # the manager put the second one first
            return {
                "recipe": recipe,
                "manager_order_final_sparsity": [m.final_sparsity for m in pruners],
                "identifiers": {str(m.final_sparsity): m.identifier() for m in pruners},
                "props": {str(m.final_sparsity): m.props(only_serializable=True, format_str=True) for m in pruners},
            }
    raise SystemExit("no tied pair found whose identifier order differs from file order")


QAT_RECIPES = {
    "custom SiLU": """
modifiers:
  - !EpochRangeModifier
    start_epoch: 0.0
    end_epoch: 3.0
  - !QuantizationModifier
    start_epoch: 1.0
    custom_quantizable_module_types: ['SiLU']
""",
    "observers off at the start": """
modifiers:
  - !EpochRangeModifier
    start_epoch: 0.0
    end_epoch: 3.0
  - !QuantizationModifier
    start_epoch: 1.0
    disable_quantization_observer_epoch: 1.0
""",
}


def qat() -> dict[str, Any]:
    patch_qconfig()
    from sparseml.pytorch.optim import ScheduledModifierManager

    torch.manual_seed(40)
    base = nn.Sequential(nn.Linear(4, 8), nn.SiLU(), nn.Linear(8, 3))
    initial = {k: v.clone() for k, v in base.state_dict().items()}
    g = torch.Generator().manual_seed(41)
    total = 3 * SPE
    inputs = [torch.randn(5, 4, generator=g) for _ in range(total)]
    runs = {}
    for name, recipe in QAT_RECIPES.items():
        model = copy.deepcopy(base)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        manager = ScheduledModifierManager.from_yaml(recipe)
        wrapped = manager.modify(model, optimizer, steps_per_epoch=SPE)
        outputs = []
        for k in range(total):
            optimizer.zero_grad(set_to_none=True)
            out = model(inputs[k])
            outputs.append(out.detach().clone())
            out.square().mean().backward()
            wrapped.step()
        quantizers = {}
        for module_name, module in model.named_modules():
            fq = getattr(module, "activation_post_process", None)
            if type(fq).__name__ == "FakeQuantize":
                observer = fq.activation_post_process
                quantizers[module_name] = {
                    "scale": fq.scale.clone(),
                    "zero_point": fq.zero_point.clone(),
                    "observed": bool(torch.isfinite(observer.min_val).all()),
                }
            wfq = getattr(module, "weight_fake_quant", None)
            if wfq is not None:
                quantizers[module_name + ".weight_fake_quant"] = {
                    "scale": wfq.scale.clone(),
                    "zero_point": wfq.zero_point.clone(),
                    "observed": bool(torch.isfinite(wfq.activation_post_process.min_val).all()),
                }
        structure = str(model)
        manager.finalize(model)
        final = {n: p.detach().clone() for n, p in model.named_parameters()}
        runs[name] = {"recipe": recipe, "outputs": outputs, "final": final, "quantizers": quantizers, "structure": structure}
    setup = {"initial": initial, "inputs": inputs, "steps_per_epoch": SPE, "lr": 0.1, "momentum": 0.9, "loss": "out.square().mean()"}
    return {**setup, "runs": runs}


def main(out: Path) -> None:
    deterministic()
    torch.save(mask_creators(), out / "mask_creators.pt")
    torch.save(training(), out / "training.pt")
    write_json(out / "identifiers.json", identifiers())
    torch.save(qat(), out / "qat.pt")
