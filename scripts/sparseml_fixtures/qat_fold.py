"""Fixtures for issue 22 items 2-3: where SparseML 1.8.0's QAT puts its fake-quantizers.

- ``fold.pt``: a CNN with Conv-BN-ReLU, Conv-BN and Conv-ReLU blocks (fused by SparseML's
  ``fuse_module_conv_bn_relus``), trained under a legacy QuantizationModifier (conv outputs
  quantized after the fused BatchNorm and ReLU, BN statistics frozen and observers off later) and
  under a new-style one whose scheme quantizes outputs.
- ``residual.pt``: a residual block whose second ReLU is registered after bn2 but runs after the
  Add: SparseML fused it into conv2 by module order, so its model applied it before the Add.
- ``functional.pt``: a stem (Conv-BN-ReLU, MaxPool) and a residual block whose Add is a
  FloatFunctional's ``add_relu``, as SparseML's own ResNets wrote it, then AdaptiveAvgPool2d and a
  Linear: the new-style modifier quantizes the FloatFunctional's output (its
  ``activation_post_process``), the legacy one does not.
- ``activations.pt``: an MLP with SiLU, ReLU, LayerNorm, GELU, Dropout and Softmax under the
  new-style modifier (every quantizable leaf module gets an input fake-quantizer), with
  ``scheme_overrides`` and ``ignore`` naming activation types, and under the legacy modifier
  with ``custom_quantizable_module_types``.

Each run records the outputs of every step, every FakeQuantize (by SparseML's module name: its
scale, zero point and observer min/max), the final parameters (by the original model's names)
and the printed structure.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .common import deterministic, fake_quantizers, patch_qconfig, qat_recipe  # relative: the tests import this module's models()

SPE = 2
EPOCHS = 3


class ResBlock(nn.Module):
    """A residual block whose second ReLU, registered after bn2, runs after the Add: SparseML fused it
    into conv2's ConvBnReLU2d by module order, so its model applied it before the Add instead."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(4, 4, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(4)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(4, 4, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(4)
        self.relu2 = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv2(self.relu1(self.bn1(self.conv1(x)))))
        return self.relu2(out + x)


class FunctionalBlock(nn.Module):
    """A residual block written as SparseML's own ResNets wrote it: the Add (and its ReLU) through a
    FloatFunctional, whose output the new-style modifier quantizes and the legacy one does not."""

    def __init__(self) -> None:
        super().__init__()
        from torch.ao.nn.quantized import FloatFunctional

        self.conv1 = nn.Conv2d(4, 4, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(4)
        self.act1 = nn.ReLU()
        self.conv2 = nn.Conv2d(4, 4, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(4)
        self.add_relu = FloatFunctional()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv2(self.act1(self.bn1(self.conv1(x)))))
        result: torch.Tensor = self.add_relu.add_relu(x, out)
        return result


def models(kind: str) -> nn.Module:
    """The fixture models (tests/test_qat_sites.py builds them from here)."""
    if kind == "res":
        return nn.Sequential(nn.Conv2d(3, 4, 1), ResBlock(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3))
    if kind == "ff":
        stem = [nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(3, 2, 1)]
        return nn.Sequential(*stem, FunctionalBlock(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3))
    if kind == "cnn":
        features = nn.Sequential(
            nn.Conv2d(3, 4, 3),
            nn.BatchNorm2d(4),
            nn.ReLU(),
            nn.Conv2d(4, 4, 3, bias=False),
            nn.BatchNorm2d(4),
            nn.Conv2d(4, 4, 1),
            nn.ReLU(),
            nn.Conv2d(4, 2, 1),
        )
        return nn.Sequential(features, nn.Flatten(), nn.Linear(2 * 4 * 4, 3))
    if kind == "mlp":
        return nn.Sequential(
            nn.Linear(4, 8),
            nn.SiLU(),
            nn.Linear(8, 8),
            nn.ReLU(),
            nn.LayerNorm(8),
            nn.GELU(),
            nn.Dropout(0.0),
            nn.Linear(8, 3),
            nn.Softmax(dim=-1),
        )
    raise ValueError(kind)


def initial_state(kind: str) -> dict[str, torch.Tensor]:
    torch.manual_seed({"cnn": 50, "mlp": 51, "res": 54, "ff": 55}[kind])
    model = models(kind)
    g = torch.Generator().manual_seed(52)
    with torch.no_grad():
        for module in model.modules():
            # BatchNorm and LayerNorm parameters and statistics away from their identity defaults.
            if isinstance(module, (nn.BatchNorm2d, nn.LayerNorm)):
                module.weight.copy_(0.5 + torch.rand(module.weight.shape, generator=g))
                module.bias.copy_(0.1 * torch.randn(module.bias.shape, generator=g))
            if isinstance(module, nn.BatchNorm2d):
                assert module.running_mean is not None and module.running_var is not None
                module.running_mean.copy_(0.1 * torch.randn(module.running_mean.shape, generator=g))
                module.running_var.copy_(0.5 + torch.rand(module.running_var.shape, generator=g))
    return {k: v.clone() for k, v in model.state_dict().items()}


def inputs(kind: str) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(53)
    shape = {"cnn": (3, 3, 8, 8), "res": (3, 3, 6, 6), "mlp": (5, 4), "ff": (3, 3, 8, 8)}[kind]
    return [torch.randn(*shape, generator=g) for _ in range(EPOCHS * SPE)]


def _header(body: str) -> str:
    return qat_recipe(EPOCHS, body)


FOLD_RECIPES = {
    "legacy conv outputs": _header(
        "    start_epoch: 1.0\n    quantize_conv_activations: true\n    freeze_bn_stats_epoch: 2.0\n"
        "    disable_quantization_observer_epoch: 2.5\n"
    ),
    "new-style output_activations": _header(
        "    start_epoch: 1.0\n    freeze_bn_stats_epoch: 2.0\n    scheme:\n"
        "      input_activations: {num_bits: 8, symmetric: false}\n"
        "      weights: {num_bits: 8, symmetric: true}\n"
        "      output_activations: {num_bits: 8, symmetric: false}\n"
    ),
    "new-style default scheme": _header("    start_epoch: 1.0\n"),
}

RES_RECIPES = {"legacy conv outputs": FOLD_RECIPES["legacy conv outputs"]}

FUNCTIONAL_RECIPES = dict(FOLD_RECIPES)

ACTIVATION_RECIPES = {
    "new-style default scheme": _header("    start_epoch: 1.0\n"),
    "new-style overrides and ignore": _header(
        "    start_epoch: 1.0\n    ignore: ['GELU', '8']\n    scheme_overrides:\n"
        "      SiLU: {input_activations: {num_bits: 8, symmetric: true}}\n"
        "      '4': {input_activations: null}\n"
        "      ReLU: {input_activations: {num_bits: 8, symmetric: false}, output_activations: {num_bits: 8, symmetric: false}}\n"
    ),
    "legacy LayerNorm output": _header("    start_epoch: 1.0\n    custom_quantizable_module_types: ['SiLU']\n"),
    "legacy custom_quantizable_module_types": _header(
        "    start_epoch: 1.0\n    custom_quantizable_module_types: ['SiLU', 'GELU']\n    exclude_module_types: ['LayerNorm']\n"
    ),
}


def run(kind: str, recipe: str) -> dict[str, Any]:
    from sparseml.pytorch.optim import ScheduledModifierManager

    model = models(kind)
    model.load_state_dict(initial_state(kind))
    names = {id(p): n for n, p in model.named_parameters()}
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    manager = ScheduledModifierManager.from_yaml(recipe)
    wrapped = manager.modify(model, optimizer, steps_per_epoch=SPE)
    outputs = []
    quantizers_per_step = []
    for x in inputs(kind):
        optimizer.zero_grad(set_to_none=True)
        out = model(x)
        outputs.append(out.detach().clone())
        quantizers_per_step.append(fake_quantizers(model))
        out.square().mean().backward()
        wrapped.step()
    structure = str(model)
    quantizers = fake_quantizers(model)
    running = {n: b.clone() for n, b in model.named_buffers() if "running" in n}
    manager.finalize(model)
    final = {names[id(p)]: p.detach().clone() for p in model.parameters() if id(p) in names}
    return {
        "recipe": recipe,
        "outputs": outputs,
        "quantizers": quantizers,
        "quantizers_per_step": quantizers_per_step,
        "final": final,
        "running": running,
        "structure": structure,
    }


def main(out: Path) -> None:
    deterministic()
    patch_qconfig()
    topics = (
        ("cnn", FOLD_RECIPES, "fold.pt"),
        ("res", RES_RECIPES, "residual.pt"),
        ("mlp", ACTIVATION_RECIPES, "activations.pt"),
        ("ff", FUNCTIONAL_RECIPES, "functional.pt"),
    )
    for kind, recipes, file in topics:
        runs = {name: run(kind, recipe) for name, recipe in recipes.items()}
        setup = {"initial": initial_state(kind), "inputs": inputs(kind), "steps_per_epoch": SPE, "lr": 0.05, "momentum": 0.9}
        torch.save({**setup, "loss": "out.square().mean()", "runs": copy.deepcopy(runs)}, out / file)
