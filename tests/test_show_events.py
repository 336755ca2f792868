"""`show` shows every scheduled event the plan holds, in words a user knows (issue 21, item 3)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from recipekit import cli

RECIPE = """\
modifiers:
  - !EpochRangeModifier
    start_epoch: 0.0
    end_epoch: 6.0
  - !GMPruningModifier
    params: ["re:.*weight"]
    init_sparsity: 0.05
    final_sparsity: 0.8
    start_epoch: 1.0
    end_epoch: 3.0
    update_frequency: 1.0
    leave_enabled: false
  - !SetLearningRateModifier
    learning_rate: 0.01
    start_epoch: 2.0
  - !QuantizationModifier
    start_epoch: 4.0
    disable_quantization_observer_epoch: 5.0
    freeze_bn_stats_epoch: 5.0
"""


def _show(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "r.yaml"
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(cli.main, ["show", str(path), "--steps-per-epoch", "2"])
    assert result.exit_code == 0, result.output
    return [line.strip() for line in result.stdout.splitlines()[1:]]


def test_every_scheduled_event_is_shown(tmp_path: Path) -> None:
    lines = _show(tmp_path, RECIPE)
    assert lines == [
        "epoch 0 (step 0)  LR: the optimizer's own until epoch 2 (step 4), where the recipe sets it",
        "epoch 0 (step 0)  EpochRangeModifier sets the training length  [EpochRangeModifier at line 2]",
        "epoch 1 (step 2)  prune re:.*weight: 0.05 -> 0.8 (cubic, 3 mask updates, unstructured)  [GMPruningModifier at line 5]",
        "epoch 2 (step 4)  set LR to 0.01  [SetLearningRateModifier at line 13]",
        "epoch 3 (step 6)  release the masks of re:.*weight (leave_enabled: false): pruned weights may grow back  "
        "[GMPruningModifier at line 5]",
        "epoch 4 (step 8)  start QAT (QuantizationModifier: scheme / scheme_overrides / ignore)  [QuantizationModifier at line 16]",
        "epoch 5 (step 10)  stop QAT observers: scales freeze (disable_quantization_observer_epoch)  [QuantizationModifier at line 16]",
        "epoch 5 (step 10)  freeze BatchNorm statistics (freeze_bn_stats_epoch)  [QuantizationModifier at line 16]",
        "epoch 6 (step 12)  training ends",
    ]
    assert not any("flavour" in line for line in lines)


def test_an_lr_the_recipe_never_sets_is_the_optimizers(tmp_path: Path) -> None:
    text = RECIPE.replace("  - !SetLearningRateModifier\n    learning_rate: 0.01\n    start_epoch: 2.0\n", "")
    assert _show(tmp_path, text)[0] == "epoch 0 (step 0)  LR: the optimizer's own throughout (the recipe sets none)"


def test_the_plot_draws_the_optimizers_lr_apart_from_the_recipes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("matplotlib")
    from matplotlib.axes import Axes

    from recipekit.compiler import compile_source
    from recipekit.plan.show import plot_schedule
    from recipekit.source import Source

    plan, _ = compile_source(Source("r.yaml", RECIPE), 2)
    assert plan is not None
    labels: list[str] = []
    real = Axes.plot

    def plot(self: Axes, *args: Any, **kwargs: Any) -> Any:
        labels.append(str(kwargs.get("label")))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Axes, "plot", plot)
    plot_schedule(plan, tmp_path / "p.png")
    assert labels[:2] == ["the optimizer's LR (not set by the recipe)", "the recipe's LR"]
