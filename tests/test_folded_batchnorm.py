"""A pruned BatchNorm weight that QAT folds into its Conv2d: recipe-lint's L379 and a refusal at attach.

`re:features.*.weight` selects the BatchNorm weights along with the convolutions'; the Conv+BN fold
of QAT divides by the BatchNorm weight, so a pruned one turns its channel's output into NaN.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from recipekit import cli

torch = pytest.importorskip("torch")

import recipekit  # noqa: E402
from recipekit.plan.manifest import from_module  # noqa: E402
from recipekit.runtime import RuntimeRefusal, attach  # noqa: E402

RECIPE = """\
version: 1.1.0
modifiers:
  - !EpochRangeModifier {start_epoch: 0.0, end_epoch: 4.0}
  - !GMPruningModifier
    params: [PARAMS]
    init_sparsity: 0.1
    final_sparsity: 0.5
    start_epoch: 0.0
    end_epoch: 2.0
    update_frequency: 1.0
  - !QuantizationModifier {start_epoch: 2.0}
"""


def net() -> torch.nn.Module:
    torch.manual_seed(0)
    conv, bn, relu = torch.nn.Conv2d, torch.nn.BatchNorm2d, torch.nn.ReLU
    model = torch.nn.Sequential()
    model.features = torch.nn.Sequential(conv(3, 8, 3), bn(8), relu(), conv(8, 8, 3), bn(8), relu())
    return model


def test_lint_with_a_manifest_reports_each_pruner_of_folded_batchnorm_weights(tmp_path: Path) -> None:
    (tmp_path / "params.json").write_text(json.dumps(from_module(net())), encoding="utf-8")
    (tmp_path / "recipe.yaml").write_text(RECIPE.replace("PARAMS", '"re:features.*.weight"'), encoding="utf-8")
    result = CliRunner().invoke(cli.lint_command, ["--params", str(tmp_path / "params.json"), str(tmp_path / "recipe.yaml")])
    assert result.exit_code == 1, result.output
    first = result.output.splitlines()[0]
    assert first == (
        f"{tmp_path / 'recipe.yaml'}:5:13: error: L379 prunes BatchNorm weight features.1.weight (and 1 more BatchNorm weights), "
        "which QAT folds into features.0: the fold divides by it, so each pruned channel's output is NaN (0/0) once QAT starts. "
        "Select the convolution weights only (e.g. features.0.weight)"
    )
    assert "L323" not in result.output  # the 1-D warning would say less about the same tensors
    # Without QAT nothing is folded: only the 1-D warning remains.
    (tmp_path / "recipe.yaml").write_text(RECIPE.replace("PARAMS", '"re:features.*.weight"').rsplit("  - !Quant", 1)[0], encoding="utf-8")
    result = CliRunner().invoke(cli.lint_command, ["--params", str(tmp_path / "params.json"), str(tmp_path / "recipe.yaml")])
    assert "L379" not in result.output and "L323" in result.output, result.output


def test_attach_refuses_it_naming_the_parameter_and_leaves_the_model_as_it_was() -> None:
    model = net()
    before = {name: value.clone() for name, value in model.state_dict().items()}
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    plan = recipekit.compile_recipe(RECIPE.replace("PARAMS", '"re:features.*.weight"'), 2)
    message = r"<recipe>:4:5 \(GMPruningModifier\): prunes the BatchNorm weight 'features.1.weight', which QAT folds into 'features.0'"
    with pytest.raises(RuntimeRefusal, match=message):
        attach(plan, model, optimizer)
    assert not optimizer._optimizer_step_pre_hooks and not optimizer._optimizer_step_post_hooks
    assert all("forward" not in vars(module) for module in model.modules())  # no QAT forward swapped in
    assert all(not p._post_accumulate_grad_hooks for p in model.parameters())
    after = model.state_dict()
    assert all(torch.equal(value, after[name]) for name, value in before.items())


def test_the_convolution_weights_alone_train_without_nan() -> None:
    model = net()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    plan = recipekit.compile_recipe(RECIPE.replace("PARAMS", '"features.0.weight", "features.3.weight"'), 2)
    runner = attach(plan, model, optimizer)
    model.train()
    while not runner.done:
        optimizer.zero_grad()
        loss = model(torch.randn(4, 3, 8, 8, generator=torch.Generator().manual_seed(runner.step_index))).pow(2).mean()
        assert torch.isfinite(loss)
        loss.backward()
        optimizer.step()
    runner.finalize()
    assert runner.qat_enabled and all(torch.isfinite(p).all() for p in model.parameters())
