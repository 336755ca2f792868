"""Issue 22 items 2-3: where QAT fake-quantizes, against SparseML 1.8.0's own runs.

The fixtures under tests/fixtures/sparseml/qat_fold/ were written by SparseML itself
(``scripts/make_sparseml_fixtures.py qat_fold``, run by hand in a SparseML venv):

- ``fold.pt``: a conv output is fake-quantized after its folded BatchNorm and after a fused ReLU,
  as SparseML quantized the fused ConvBn2d / ConvBnReLU2d / ConvReLU2d module's output;
- ``activations.pt``: the new-style modifier fake-quantizes the input of every quantizable leaf
  module (SiLU, ReLU, LayerNorm, GELU, Softmax; not Dropout), honouring ``scheme_overrides`` and
  ``ignore`` by type and by name; the legacy one only those of ``custom_quantizable_module_types``.

Every comparison is bit for bit: outputs at every step, every fake-quantizer's observer min/max,
scale and zero point at every step, and the final weights.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import pytest

import recipekit

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from recipekit.runtime import attach  # noqa: E402
from scripts.sparseml_fixtures.qat_fold import models  # noqa: E402  (the very models the fixtures were made with)
from tests import fixture_compare  # noqa: E402
from tests.sparseml_qat import check_quantizers  # noqa: E402

FIX = fixture_compare.topic("qat_fold")


@pytest.fixture(autouse=True)
def deterministic() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def replay(fixture: dict[str, Any], run: dict[str, Any], kind: str) -> tuple[nn.Module, Any, list[str]]:
    model = models(kind)
    model.load_state_dict(fixture["initial"])
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=fixture["lr"], momentum=fixture["momentum"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        runner = attach(recipekit.compile_recipe(run["recipe"], fixture["steps_per_epoch"]), model, optimizer)
        for k, x in enumerate(fixture["inputs"]):
            optimizer.zero_grad(set_to_none=True)
            out = model(x)
            FIX.floats(out.detach(), run["outputs"][k], f"outputs at step {k}")
            if run["quantizers_per_step"][k]:
                check_quantizers(FIX, runner, run["quantizers_per_step"][k], f"step {k}")
            out.square().mean().backward()
            optimizer.step()
        check_quantizers(FIX, runner, run["quantizers"], "end")
        runner.finalize()
    for name, value in model.named_parameters():
        FIX.floats(value.detach(), run["final"][name], name)
    return model, runner, [str(w.message) for w in caught]


FOLD = FIX.load("fold.pt")
ACTIVATIONS = FIX.load("activations.pt")


@pytest.mark.parametrize("name", list(FOLD["runs"]))
def test_conv_outputs_are_fake_quantized_after_the_fused_batchnorm_and_relu(name: str) -> None:
    run = FOLD["runs"][name]
    model, runner, messages = replay(FOLD, run, "cnn")
    assert not [m for m in messages if "BatchNorm" in m], messages  # the attach warning is gone
    for buffer, value in model.named_buffers():
        if "running" in buffer:
            fused = buffer.replace("0.1.", "0.0.bn.").replace("0.4.", "0.3.bn.")
            FIX.floats(value, run["running"][f"{fused.rsplit('.', 2)[0]}.module.bn.{buffer.rsplit('.', 1)[1]}"], buffer)
    quantized = {m.name: m for m in runner.quantization.modules}
    if name != "new-style default scheme":
        # Each output quantizer follows the block's last module: ReLU, BatchNorm, ReLU, the conv itself.
        tails = {n: None if m.tail is None else type(m.tail).__name__ for n, m in quantized.items()}
        assert tails == {"0.0": "ReLU", "0.3": "BatchNorm2d", "0.5": "ReLU", "0.7": None, "2": None}


RESIDUAL = FIX.load("residual.pt")


def test_a_relu_fused_by_module_order_runs_inside_the_block_as_in_sparsemls_model() -> None:
    # relu2 follows bn2 in module order, so SparseML fused it into conv2 and its model applied it
    # before the residual Add, skipping the model's own call after it: the same bits here, said once.
    run = RESIDUAL["runs"]["legacy conv outputs"]
    _, _, messages = replay(RESIDUAL, run, "res")
    fused = [m for m in messages if "ReLU '1.relu2' is fused into the quantized conv '1.conv2'" in m]
    assert len(fused) == 1 and "set model_fuse_fn_name: no_fuse" in fused[0]
    assert not [m for m in messages if "'1.relu1'" in m]  # called right after its block: nothing to say
    # Before QAT started the model was its own: its output had the ReLU after the Add (non-negative).
    block = models("res")
    block.load_state_dict(RESIDUAL["initial"])
    x = RESIDUAL["inputs"][0]
    assert (block[1](block[0](x)) >= 0).all()


@pytest.mark.parametrize("name", list(ACTIVATIONS["runs"]))
def test_activation_inputs_are_fake_quantized_where_sparseml_wrapped_them(name: str) -> None:
    run = ACTIVATIONS["runs"][name]
    _, runner, messages = replay(ACTIVATIONS, run, "mlp")
    assert messages == []
    inputs = sorted(m.name for m in runner.quantization.modules if m.input is not None)
    expected = {
        "new-style default scheme": ["0", "1", "2", "3", "4", "5", "7", "8"],
        "new-style overrides and ignore": ["0", "1", "2", "3", "7"],
        "legacy LayerNorm output": ["0", "1", "2", "7"],
        "legacy custom_quantizable_module_types": ["0", "1", "2", "5", "7"],
    }
    assert inputs == expected[name]
    if name.startswith("legacy"):
        # The legacy modifier (torch's prepare_qat) quantized LayerNorm's output unless exclude_module_types named it.
        layer_norm = [(m.input is None, m.output is not None) for m in runner.quantization.modules if m.name == "4"]
        assert layer_norm == ([(True, True)] if name == "legacy LayerNorm output" else [])


def test_a_type_override_on_a_container_is_refused() -> None:
    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.linear = nn.Linear(4, 4)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            out: torch.Tensor = self.linear(x)
            return out

    model = nn.Sequential(Block(), nn.ReLU())
    recipe = "modifiers:\n  - !QuantizationModifier\n    start_epoch: 0.0\n    scheme_overrides:\n      Block: {input_activations: null}\n"
    message = r"scheme_overrides names the type of '0' \(Block\), a module with submodules"
    with pytest.raises(recipekit.runtime.RuntimeRefusal, match=message):
        attach(recipekit.compile_recipe(recipe, 2), model, torch.optim.SGD(model.parameters(), lr=0.1))


def test_a_fused_relu_named_in_custom_quantizable_module_types_is_not_wrapped() -> None:
    # SparseML fused the ReLU into the conv before wrapping custom types: an Identity by then.
    model = models("cnn")
    recipe = "modifiers:\n  - !QuantizationModifier\n    start_epoch: 0.0\n    custom_quantizable_module_types: [ReLU]\n"
    runner = attach(recipekit.compile_recipe(recipe, 2), model, torch.optim.SGD(model.parameters(), lr=0.1))
    assert sorted(m.name for m in runner.quantization.modules if isinstance(m.module, nn.ReLU)) == []
    unfused = models("cnn")
    no_fuse = recipe + "    model_fuse_fn_name: no_fuse\n"
    runner = attach(recipekit.compile_recipe(no_fuse, 2), unfused, torch.optim.SGD(unfused.parameters(), lr=0.1))
    assert sorted(m.name for m in runner.quantization.modules if isinstance(m.module, nn.ReLU)) == ["0.2", "0.6"]


FUNCTIONAL = FIX.load("functional.pt")


@pytest.mark.parametrize("name", list(FUNCTIONAL["runs"]))
def test_a_float_functional_add_is_quantized_where_sparseml_quantized_it(name: str) -> None:
    # SparseML's own ResNets add through a FloatFunctional: the new-style modifier replaced the Identity
    # its add_relu calls on the result with an output_activations fake-quantizer; the legacy modifier
    # removed it (remove_activation_qat_by_layer_name), and a scheme without output_activations has none.
    run = FUNCTIONAL["runs"][name]
    model, runner, messages = replay(FUNCTIONAL, run, "ff")
    assert messages == []
    add = [sorted(m.quantizers()) for m in runner.quantization.modules if m.name == "4.add_relu"]
    assert add == ([["output"]] if name == "new-style output_activations" else [])
    # Removed, the model is its own again: the FloatFunctional's Identity no longer quantizes.
    runner.detach()
    assert "forward" not in model[4].add_relu.activation_post_process.__dict__


def test_a_float_functional_named_as_a_custom_quantizable_type_is_refused() -> None:
    # SparseML's legacy modifier wrapped it in a QuantWrapper, which has no add_relu: its model raised
    # AttributeError on the first forward (checked with SparseML 1.8.0). Refused before anything changes.
    model = models("ff")
    recipe = "modifiers:\n  - !QuantizationModifier\n    start_epoch: 0.0\n    custom_quantizable_module_types: [FloatFunctional]\n"
    with pytest.raises(recipekit.runtime.RuntimeRefusal, match=r"custom_quantizable_module_types names FloatFunctional \('4.add_relu'\)"):
        attach(recipekit.compile_recipe(recipe, 2), model, torch.optim.SGD(model.parameters(), lr=0.1))
    assert not any("forward" in m.__dict__ for m in model.modules())
