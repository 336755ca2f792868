"""Resuming with an edited recipe names what changed, and continues only on purpose (issue 21, item 12)."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

import recipekit  # noqa: E402
from recipekit.runtime import RecipeRuntimeWarning, RuntimeRefusal, attach  # noqa: E402
from tests.runtime_models import Net  # noqa: E402

# GMPruningModifier at line 8; final_sparsity at line 12.
RECIPE = """modifiers:
  - !EpochRangeModifier
    start_epoch: 0.0
    end_epoch: 6.0

  # prune the convolutions

  - !GMPruningModifier
    params: ["re:features.*.weight"]
    init_sparsity: 0.05
    start_epoch: 0.0
    final_sparsity: 0.75
    end_epoch: 4.0
    update_frequency: 1.0
"""


def train(model: torch.nn.Module, optimizer: torch.optim.Optimizer, steps: range) -> None:
    for step in steps:
        x = torch.randn(4, 3, 8, 8, generator=torch.Generator().manual_seed(step))
        optimizer.zero_grad()
        model(x).pow(2).mean().backward()
        optimizer.step()


def saved_state(tmp_path: Path, recipe: str, steps: int) -> dict:
    torch.manual_seed(0)
    model = Net()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    runner = attach(recipekit.compile_recipe(recipe, 2), model, optimizer)
    train(model, optimizer, range(steps))
    torch.save({"model": model.state_dict(), "runner": runner.state_dict()}, tmp_path / "c.pt")
    runner.detach()
    return torch.load(tmp_path / "c.pt", weights_only=True)  # as a resumed job reads it


def resumed(state: dict, recipe: str) -> tuple[torch.nn.Module, torch.optim.Optimizer, object]:
    model = Net()
    model.load_state_dict(state["model"])
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    return model, optimizer, attach(recipekit.compile_recipe(recipe, 2), model, optimizer)


def test_an_edited_recipe_is_refused_naming_the_change(tmp_path: Path) -> None:
    state = saved_state(tmp_path, RECIPE, 3)
    _, _, runner = resumed(state, RECIPE.replace("final_sparsity: 0.75", "final_sparsity: 0.8"))
    with pytest.raises(RuntimeRefusal) as raised:
        runner.load_state_dict(state["runner"])  # type: ignore[attr-defined]
    message = str(raised.value)
    assert message.startswith(
        "this runner state was saved with a different plan: final_sparsity 0.75 → 0.8 in GMPruningModifier at line 8. "
    )
    assert "allow_changed_plan=True" in message


def test_other_steps_per_epoch_or_variables_are_named_too(tmp_path: Path) -> None:
    state = saved_state(tmp_path, RECIPE, 3)
    model = Net()
    runner = attach(recipekit.compile_recipe(RECIPE, 3), model, torch.optim.SGD(model.parameters(), lr=0.05))
    with pytest.raises(RuntimeRefusal, match="different plan: steps_per_epoch 2 → 3; total_steps 12 → 18;"):
        runner.load_state_dict(state["runner"])


def test_continuing_on_purpose_runs_the_new_plan_from_the_saved_step(tmp_path: Path) -> None:
    state = saved_state(tmp_path, RECIPE, 3)
    model, optimizer, runner = resumed(state, RECIPE.replace("final_sparsity: 0.75", "final_sparsity: 0.8"))
    with pytest.warns(RecipeRuntimeWarning, match="resuming with a changed plan, on purpose: final_sparsity 0.75 → 0.8"):
        runner.load_state_dict(state["runner"], allow_changed_plan=True)  # type: ignore[attr-defined]
    assert runner.step_index == 3  # type: ignore[attr-defined]
    train(model, optimizer, range(3, 12))
    runner.finalize()  # type: ignore[attr-defined]
    weight = dict(model.named_parameters())["features.0.weight"]
    assert int((weight == 0).sum()) == round(weight.numel() * 0.8)


def test_a_changed_set_of_pruners_cannot_continue(tmp_path: Path) -> None:
    state = saved_state(tmp_path, RECIPE, 3)
    extra = (
        "  - !GMPruningModifier\n    params: [classifier.weight]\n    init_sparsity: 0.05\n    final_sparsity: 0.5\n"
        "    start_epoch: 0.0\n    end_epoch: 4.0\n    update_frequency: 1.0\n"
    )
    _, _, runner = resumed(state, RECIPE + extra)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RecipeRuntimeWarning)
        with pytest.raises(RuntimeRefusal, match=r"GMPruningModifier at line 15 is new .*cannot carry over"):
            runner.load_state_dict(state["runner"], allow_changed_plan=True)  # type: ignore[attr-defined]


def test_the_same_plan_resumes_silently(tmp_path: Path) -> None:
    state = saved_state(tmp_path, RECIPE, 3)
    _, _, runner = resumed(state, RECIPE)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        runner.load_state_dict(state["runner"])  # type: ignore[attr-defined]
    assert runner.step_index == 3  # type: ignore[attr-defined]
