"""`recipekit params`: manifests from a model factory or a checkpoint (needs torch)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import recipekit
from recipekit import cli

torch = pytest.importorskip("torch")

FACTORY = """
import torch

def build():
    return torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.BatchNorm2d(8), torch.nn.Flatten(), torch.nn.Linear(8, 2))
"""


def test_manifest_from_a_model_factory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "mymodels.py").write_text(FACTORY)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli.main, ["params", "--model", "mymodels:build", "-o", "params.json"])
    assert result.exit_code == 0, result.output
    document = json.loads((tmp_path / "params.json").read_text())
    # The modules beside the parameters: a QuantizationModifier's `ignore` names them (Flatten has no parameter).
    assert document["modules"] == [
        {"name": "", "type": "Sequential"},
        {"name": "0", "type": "Conv2d"},
        {"name": "1", "type": "BatchNorm2d"},
        {"name": "2", "type": "Flatten"},
        {"name": "3", "type": "Linear"},
    ]
    manifest = document["params"]
    assert manifest[0] == {"name": "0.weight", "shape": [8, 3, 3, 3], "module_type": "Conv2d"}
    assert [p["module_type"] for p in manifest] == ["Conv2d", "Conv2d", "BatchNorm2d", "BatchNorm2d", "Linear", "Linear"]
    recipe = tmp_path / "r.yaml"
    recipe.write_text("modifiers:\n  - !ConstantPruningModifier\n    params: [0.weight, 1.weight, 9.weight]\n")
    lint = CliRunner().invoke(cli.lint_command, ["--params", "params.json", "--format", "concise", "r.yaml"])
    assert lint.exit_code == 1 and "'9.weight' matches no parameter" in lint.output


def test_manifest_from_a_checkpoint(tmp_path: Path) -> None:
    model = torch.nn.Linear(4, 2)
    torch.save({"state_dict": model.state_dict()}, tmp_path / "model.pt")
    result = CliRunner().invoke(cli.main, ["params", "--checkpoint", str(tmp_path / "model.pt")])
    assert result.exit_code == 0
    assert json.loads(result.output) == [
        {"name": "weight", "shape": [2, 4], "module_type": None},
        {"name": "bias", "shape": [2], "module_type": None},
    ]


def test_a_checkpoint_manifest_lists_parameters_not_buffers(tmp_path: Path) -> None:
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))
    torch.save(model.state_dict(), tmp_path / "model.pt")
    result = CliRunner().invoke(cli.main, ["params", "--checkpoint", str(tmp_path / "model.pt")])
    assert result.exit_code == 0, result.output
    assert [p["name"] for p in json.loads(result.output)] == ["0.weight", "0.bias", "1.weight", "1.bias"]
    result = CliRunner().invoke(cli.main, ["params", "--checkpoint", str(tmp_path / "model.pt"), "--buffers"])
    assert [p["name"] for p in json.loads(result.output)][4:] == ["1.running_mean", "1.running_var", "1.num_batches_tracked"]
    assert CliRunner().invoke(cli.main, ["params", "--model", "x:y", "--buffers"]).exit_code == 2


def test_bad_inputs(tmp_path: Path) -> None:
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    result = CliRunner().invoke(cli.main, ["params", "--checkpoint", str(tmp_path / "junk.pt")])
    assert result.exit_code == 1 and "cannot load checkpoint" in result.output
    assert CliRunner().invoke(cli.main, ["params"]).exit_code == 2
    assert CliRunner().invoke(cli.main, ["params", "--model", "nomodule:build"]).exit_code == 1


ATTENTION = """
import torch

def build():
    return torch.nn.Sequential(torch.nn.MultiheadAttention(8, 2), torch.nn.Linear(8, 8))
"""


def test_one_manifest_for_params_lint_expand_and_the_runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # nn.MultiheadAttention's out_proj is a NonDynamicallyQuantizableLinear: a Linear to SparseML's isinstance,
    # so __ALL_PRUNABLE__ prunes it in training; `recipekit params` (and so lint and expand) must agree.
    from recipekit.plan.selectors import match_pattern
    from recipekit.runtime import attach

    (tmp_path / "attention.py").write_text(ATTENTION)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli.main, ["params", "--model", "attention:build"])
    assert result.exit_code == 0, result.output
    manifest = json.loads(result.output)["params"]
    assert {p["name"]: p["module_type"] for p in manifest}["0.out_proj.weight"] == "Linear"
    assert match_pattern("__ALL_PRUNABLE__", manifest) == ["0.out_proj.weight", "1.weight"]

    import attention  # the factory's module, importable from tmp_path as the CLI made it

    model = attention.build()
    recipe = (
        "modifiers:\n  - !GMPruningModifier\n    params: __ALL_PRUNABLE__\n    init_sparsity: 0.5\n    final_sparsity: 0.5\n"
        "    start_epoch: 0.0\n    end_epoch: 1.0\n    update_frequency: 1.0\n"
    )
    plan = recipekit.compile_recipe(recipe, 2)
    runner = attach(plan, model, torch.optim.SGD(model.parameters(), lr=0.1))
    assert runner._selected[plan.instructions[0]["selector"]] == ["0.out_proj.weight", "1.weight"]
    runner.detach()
