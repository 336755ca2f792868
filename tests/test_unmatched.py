"""A parameter pattern that matches nothing: `expand` reports it (issue 21, item 3), and `attach`,
L320 and `expand` give the closest names or the known prefix that would match (item 8), in one wording
(``plan.selectors.unmatched_hint``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from recipekit import cli
from recipekit.plan.selectors import unmatched_hint

RECIPE = """\
modifiers:
  - !EpochRangeModifier
    start_epoch: 0.0
    end_epoch: 2.0
  - !GMPruningModifier
    params: [{name}]
    init_sparsity: 0.05
    final_sparsity: 0.8
    start_epoch: 0.0
    end_epoch: 1.0
    update_frequency: 0.5
"""

NAMES = ["features.0.weight", "features.0.bias", "features.2.weight", "features.2.bias", "classifier.weight", "classifier.bias"]
TYPES = {"features.0": "Conv2d", "features.2": "Conv2d", "classifier": "Linear"}


def _manifest(tmp_path: Path, prefix: str = "") -> Path:
    params = [{"name": prefix + n, "shape": [4, 4], "module_type": TYPES[n.rsplit(".", 1)[0]]} for n in NAMES]
    path = tmp_path / "params.json"
    path.write_text(json.dumps(params), encoding="utf-8")
    return path


def _plan(tmp_path: Path, name: str) -> Path:
    recipe = tmp_path / "r.yaml"
    recipe.write_text(RECIPE.format(name=name), encoding="utf-8")
    plan = tmp_path / "plan.json"
    result = CliRunner().invoke(cli.main, ["compile", str(recipe), "--steps-per-epoch", "2", "-o", str(plan)])
    assert result.exit_code == 0, result.output
    return plan


TYPO = "; did you mean 'features.0.weight' (or 'features.2.weight', 'features.0.bias')?"


def test_expand_reports_a_pattern_that_matches_nothing_as_lint_does(tmp_path: Path) -> None:
    """The issue's case: expand printed "target_sparsity": {} and exited 0."""
    plan, manifest = _plan(tmp_path, "features.0.weigth"), _manifest(tmp_path)
    result = CliRunner().invoke(cli.main, ["expand", str(plan), "--params", str(manifest)])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert f"r.yaml:6:13: error: L320 'features.0.weigth' matches no parameter of the model{TYPO}" in result.stderr
    lint = CliRunner().invoke(cli.lint_command, ["--params", str(manifest), "--format", "concise", str(tmp_path / "r.yaml")])
    assert f"r.yaml:6:14: L320 'features.0.weigth' matches no parameter of the model{TYPO}" in lint.output
    allowed = CliRunner().invoke(cli.main, ["expand", str(plan), "--params", str(manifest), "--allow-unmatched"])
    assert allowed.exit_code == 0
    assert "warning: L320 'features.0.weigth'" in allowed.stderr
    assert json.loads(allowed.stdout.splitlines()[0])["target_sparsity"] == {}


def test_a_known_prefix_that_would_match_is_named(tmp_path: Path) -> None:
    plan, manifest = _plan(tmp_path, "features.0.weight"), _manifest(tmp_path, "backbone.")
    result = CliRunner().invoke(cli.main, ["expand", str(plan), "--params", str(manifest)])
    assert result.exit_code == 1
    hint = "; the model's name is 'backbone.features.0.weight': add the 'backbone.' prefix"
    assert f"'features.0.weight' matches no parameter of the model{hint}" in result.stderr
    assert unmatched_hint("model.features.0.weight", NAMES) == "; the model's name is 'features.0.weight': drop the 'model.' prefix"
    assert (
        unmatched_hint("re:features", ["model." + n for n in NAMES])
        == "; the model's names start with 'model.': write 're:model\\.features'"
    )
    assert unmatched_hint("re:weight", NAMES) == "; `re:` matches at the start of names, write 're:.*weight' to search"
    assert unmatched_hint("nothing.like.it", NAMES) == ""


def test_expand_of_a_matching_plan_is_unchanged(tmp_path: Path) -> None:
    plan, manifest = _plan(tmp_path, "features.0.weight"), _manifest(tmp_path)
    result = CliRunner().invoke(cli.main, ["expand", str(plan), "--params", str(manifest)])
    assert result.exit_code == 0 and result.stderr == ""
    assert json.loads(result.stdout.splitlines()[0])["target_sparsity"] == {"features.0.weight": 0.05}


def test_attach_gives_the_same_hint(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    import torch

    from recipekit.runtime import RuntimeRefusal, attach

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.features = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(), torch.nn.Conv2d(4, 4, 3))
            self.classifier = torch.nn.Linear(4, 2)

    model = Net()
    plan = _plan(tmp_path, "features.0.weigth")
    with pytest.raises(RuntimeRefusal, match=r"'features.0.weigth' matches no parameter of the model; did you mean 'features.0.weight'"):
        attach(plan, model, torch.optim.SGD(model.parameters(), lr=0.1))
