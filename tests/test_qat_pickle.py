"""Issue 20 item 5: a model under QAT simulation pickles (``torch.save(model)``) and loads back
computing the same outputs, at every stage: observers on, observers off, BatchNorm frozen, after
``finalize``; pruning masks included."""

from __future__ import annotations

import io
from typing import Any

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import recipekit  # noqa: E402
from recipekit.runtime import attach  # noqa: E402
from recipekit.runtime.qat import is_simulating  # noqa: E402

RECIPE = """
modifiers:
  - !EpochRangeModifier
    start_epoch: 0.0
    end_epoch: 4.0
  - !GMPruningModifier
    params: [features.0.weight, head.weight]
    init_sparsity: 0.05
    final_sparsity: 0.5
    start_epoch: 0.0
    end_epoch: 1.0
    update_frequency: 0.5
  - !QuantizationModifier
    start_epoch: 1.0
    disable_quantization_observer_epoch: 2.0
    freeze_bn_stats_epoch: 3.0
"""


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.Conv2d(8, 8, 1), nn.SiLU())
        self.head = nn.Linear(8, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.head(self.features(x).mean(dim=(2, 3)))
        return out


def batch(step: int) -> torch.Tensor:
    return torch.randn(4, 3, 8, 8, generator=torch.Generator().manual_seed(step))


def roundtrip(model: nn.Module) -> Any:
    buffer = io.BytesIO()
    torch.save(model, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=False)


def test_a_qat_model_pickles_and_computes_the_same_outputs_at_every_stage() -> None:
    torch.manual_seed(0)
    model = Net()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    runner = attach(recipekit.compile_recipe(RECIPE, 4), model, optimizer)
    model.train()
    checked = 0
    while not runner.done:
        step = runner.step_index
        if runner.qat_enabled and step % 4 == 1:
            loaded = roundtrip(model)
            simulating = sorted(n for n, m in loaded.named_modules() if is_simulating(m))
            # The two convs, the Linear, the SiLU (new-style QuantWrapper), the fused ReLU carrying no
            # output quantizer here (new-style default scheme), and the BatchNorm once frozen.
            assert {"features.0", "features.3", "features.4", "head"} <= set(simulating)
            x = batch(1000 + step)
            # Both observe (or not) the same batch from the same state: the outputs are the same bits.
            assert torch.equal(loaded(x), model(x))
            assert torch.equal(loaded(x), model(x))
            checked += 1
        optimizer.zero_grad()
        model(batch(step)).pow(2).mean().backward()
        optimizer.step()
    runner.finalize()
    assert checked == 3
    model.eval()
    loaded = roundtrip(model)
    x = batch(2000)
    assert torch.equal(loaded(x), model(x))
    # The masks travel with the simulation: the pruned weights compute as zeros after loading too.
    zeros = loaded.features[0].weight.detach() == 0
    assert zeros.float().mean() >= 0.45
    assert torch.equal(zeros, model.features[0].weight.detach() == 0)


class Residual(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        from torch.ao.nn.quantized import FloatFunctional

        self.conv = nn.Conv2d(3, 3, 3, padding=1)
        self.add_relu = FloatFunctional()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.add_relu.add_relu(x, self.conv(x))
        return out


def test_a_quantized_float_functional_pickles_with_its_output_quantizer() -> None:
    recipe = RECIPE.replace("    freeze_bn_stats_epoch: 3.0\n", "    scheme:\n      output_activations: {num_bits: 8, symmetric: false}\n")
    recipe = recipe.replace("params: [features.0.weight, head.weight]", "params: [conv.weight]")
    torch.manual_seed(0)
    model = Residual()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    runner = attach(recipekit.compile_recipe(recipe, 4), model, optimizer)
    for step in range(6):
        optimizer.zero_grad()
        model(batch(step)).pow(2).mean().backward()
        optimizer.step()
    assert runner.qat_enabled and "4" not in runner.quantization.parameters()
    assert sorted(runner.quantization.parameters()["add_relu"]) == ["output"]
    loaded = roundtrip(model)
    assert is_simulating(loaded.add_relu.activation_post_process)
    x = batch(3000)
    out = model(x)
    assert torch.equal(loaded(x), out)
    # The Add's output is on its quantizer's grid (the sum of two quantized tensors is not, in general).
    scale = float(runner.quantization.parameters()["add_relu"]["output"]["scale"])
    steps = out.detach().double() / scale
    assert torch.allclose(steps, steps.round(), atol=1e-3)
    plain = torch.relu(x + model.conv(x)).detach().double() / scale
    assert not torch.allclose(plain, plain.round(), atol=1e-3)
