"""A QuantizationModifier `ignore`/`scheme_overrides` entry that matches no module: what SparseML refused
when QAT started, reported by recipe-lint with a `recipekit params --model` manifest (L338) and refused by
`attach` before anything changes (issue 21, item 8)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from recipekit import cli
from recipekit.plan import qat_names

# SparseML's matching: a name prefix (module. stripped) or the exact class name.
# A subclass's name, a name past the end, the prefix SparseML strips, the class name in other case, a longer class name.
NONE_MATCH = ["ReLU6", "features.2", "module.features", "relu", "Sequential2"]
MODULES = [("", "Net"), ("module.features", "Sequential"), ("module.features.0", "Conv2d"), ("module.features.1", "ReLU")]


@pytest.mark.parametrize(
    ("entries", "expected"),
    [
        (["features", "features.0", "feat", "ReLU", "Conv2d", "Net"], []),
        (NONE_MATCH, NONE_MATCH),
    ],
)
def test_matching_is_sparsemls(entries: list[str], expected: list[str]) -> None:
    assert qat_names.unmatched(entries, MODULES) == expected


def test_strict_false_lets_entries_match_nothing() -> None:
    config = {"ignore": ["nothing"], "scheme_overrides": {"Nothing": {}}, "strict": True}
    assert qat_names.unmatched_in_config(config, MODULES) == [("scheme_overrides", "Nothing"), ("ignore", "nothing")]
    assert qat_names.unmatched_in_config({**config, "strict": False}, MODULES) == []


FACTORY = """
import torch

def build():
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(8 * 6 * 6, 2)
    )
"""

RECIPE = """modifiers:
  - !QuantizationModifier
    start_epoch: 0.0
    ignore: [ReLU6, '3', Flaten]
    scheme_overrides:
      Linear:
        weights: {num_bits: 8}
      Conv3d:
        weights: {num_bits: 8}
"""


def test_lint_reports_unmatched_entries_with_a_model_manifest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("torch")
    (tmp_path / "qatmodels.py").write_text(FACTORY)
    (tmp_path / "r.yaml").write_text(RECIPE)
    monkeypatch.chdir(tmp_path)
    assert CliRunner().invoke(cli.main, ["params", "--model", "qatmodels:build", "-o", "params.json"]).exit_code == 0
    result = CliRunner().invoke(cli.lint_command, ["--params", "params.json", "--format", "concise", "r.yaml"])
    assert result.exit_code == 1
    tail = "SparseML refused it when QAT started ({} contains submodule names or module types that do not match)"
    assert result.output.splitlines() == [
        "r.yaml:4:14: L338 ignore entry 'ReLU6' matches no module name (as a prefix) or module type of the model; "
        "did you mean 'ReLU'?; " + tail.format("ignore"),
        "r.yaml:4:26: L338 ignore entry 'Flaten' matches no module name (as a prefix) or module type of the model; "
        "did you mean 'Flatten'?; " + tail.format("ignore"),
        "r.yaml:8:7: L338 scheme_overrides entry 'Conv3d' matches no module name (as a prefix) or module type of the model; "
        "did you mean 'Conv2d'?; " + tail.format("scheme_overrides"),
        "Checked 1 file: 3 errors.",
    ]
    # A manifest without modules (a checkpoint's, a list of names) cannot say: the rule stays silent.
    document = json.loads((tmp_path / "params.json").read_text())
    (tmp_path / "list.json").write_text(json.dumps(document["params"]))
    result = CliRunner().invoke(cli.lint_command, ["--params", "list.json", "--format", "concise", "r.yaml"])
    assert "L338" not in result.output


def test_attach_refuses_before_anything_changes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    torch = pytest.importorskip("torch")
    import recipekit
    from recipekit.runtime import RuntimeRefusal, attach

    (tmp_path / "qatmodels2.py").write_text(FACTORY)
    monkeypatch.syspath_prepend(str(tmp_path))
    import qatmodels2

    model = qatmodels2.build()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    plan = recipekit.compile_recipe(RECIPE.replace("ReLU6, '3', Flaten", "ReLU, '3', Flaten"), 2)
    with pytest.raises(RuntimeRefusal) as raised:
        attach(plan, model, optimizer)
    assert str(raised.value).startswith(
        "<recipe>:2:5 (QuantizationModifier): scheme_overrides entry 'Conv3d' matches no module name (as a prefix) or module type"
    )
    assert "; set strict: false to let it match nothing" in str(raised.value)
    assert not optimizer._optimizer_step_pre_hooks and not optimizer._optimizer_step_post_hooks
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert not any("forward" in vars(m) for m in model.modules())
    fixed = recipekit.compile_recipe(RECIPE.replace("ReLU6, '3', Flaten", "ReLU, '3', Flatten").replace("Conv3d", "Conv2d"), 2)
    attach(fixed, model, optimizer).detach()
