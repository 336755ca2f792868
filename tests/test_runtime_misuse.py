"""The runtime notices misuse instead of silently doing less than the plan (issue 16 item 11, issue 13)."""

from __future__ import annotations

import re
from typing import Any

import pytest

torch = pytest.importorskip("torch")

import recipekit  # noqa: E402
from recipekit.plan.model import plan_from_json  # noqa: E402
from recipekit.runtime import RecipeRuntimeWarning, RuntimeRefusal, attach  # noqa: E402
from tests.runtime_models import Net  # noqa: E402

RECIPE = """\
modifiers:
  - !EpochRangeModifier
    start_epoch: 0.0
    end_epoch: 4.0
  - !SetLearningRateModifier
    start_epoch: 0.0
    learning_rate: 0.05
  - !GMPruningModifier
    params: [{params}]
    init_sparsity: 0.05
    final_sparsity: 0.5
    start_epoch: 1.0
    end_epoch: 3.0
    update_frequency: 1.0
"""
SPE = 2  # 8 steps


def plan(params: str = "features.0.weight, features.2.weight", extra: str = "") -> Any:
    return recipekit.compile_recipe(RECIPE.format(params=params) + extra, SPE)


def train(model: torch.nn.Module, optimizer: Any, steps: int, after: Any = None) -> None:
    for step in range(steps):
        generator = torch.Generator().manual_seed(step)
        optimizer.zero_grad()
        model(torch.randn(2, 3, 8, 8, generator=generator)).pow(2).mean().backward()
        optimizer.step()
        if after is not None:
            after()


def _zeros(model: torch.nn.Module) -> int:
    return sum(int((p == 0).sum()) for p in model.parameters())


# -- the optimizer ------------------------------------------------------------------------
def test_an_optimizer_of_another_model_is_refused_before_anything_changes() -> None:
    model = Net()
    other = torch.optim.SGD(Net().parameters(), lr=0.1)  # what a Trainer builds when not given yours
    with pytest.raises(RuntimeRefusal, match=r"^the optimizer holds none of the model's 6 parameters, so its steps never train"):
        attach(plan(), model, other)
    assert not other._optimizer_step_pre_hooks and _zeros(model) == 0


def test_an_optimizer_without_a_pruned_parameter_is_refused() -> None:
    model = Net()
    optimizer = torch.optim.SGD([p for n, p in model.named_parameters() if n != "features.2.weight"], lr=0.1)
    with pytest.raises(RuntimeRefusal, match=r"^the optimizer does not hold features\.2\.weight, which the plan prunes or unfreezes"):
        attach(plan(), model, optimizer)


class Wrapper:
    """What accelerate and Lightning hand out: the torch optimizer as `.optimizer`, step() forwarded."""

    def __init__(self, optimizer: torch.optim.Optimizer) -> None:
        self.optimizer = optimizer

    @property
    def param_groups(self) -> list[dict[str, Any]]:
        return self.optimizer.param_groups

    def step(self) -> None:
        self.optimizer.step()

    def zero_grad(self) -> None:
        self.optimizer.zero_grad()


class AcceleratedLike(torch.optim.Optimizer):
    """accelerate's AcceleratedOptimizer subclasses Optimizer without calling its __init__."""

    def __init__(self, optimizer: torch.optim.Optimizer) -> None:
        self.optimizer = optimizer

    def step(self, closure: Any = None) -> None:  # type: ignore[override]
        self.optimizer.step()

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.optimizer.zero_grad()


@pytest.mark.parametrize("wrap", [Wrapper, AcceleratedLike, lambda o: Wrapper(AcceleratedLike(o))])
def test_wrapped_optimizers_are_unwrapped_and_the_plan_runs(wrap: Any) -> None:
    model = Net()
    inner = torch.optim.SGD(model.parameters(), lr=0.1)
    runner = attach(plan(), model, wrap(inner))
    assert runner.optimizer is inner
    train(model, wrap(inner), 8)
    runner.finalize()
    assert runner.step_index == 8
    assert float((model.features[2].weight == 0).float().mean()) == pytest.approx(0.5, abs=0.01)


def test_something_that_is_no_optimizer_is_refused_with_the_hint() -> None:
    model = Net()
    with pytest.raises(RuntimeRefusal) as refused:
        attach(plan(), model, object())  # type: ignore[arg-type]
    assert str(refused.value) == (
        "attach needs the torch.optim.Optimizer that steps the model; got a object without one. If it wraps an optimizer, "
        "pass the wrapped one (for accelerate and Lightning wrappers: `optimizer.optimizer`)"
    )


# -- the length of the run ----------------------------------------------------------------
def test_finalize_warns_when_training_stopped_early() -> None:
    model = Net()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    runner = attach(plan(), model, optimizer)
    train(model, optimizer, 5)
    with pytest.warns(RecipeRuntimeWarning) as caught:
        runner.finalize()
    assert [str(w.message) for w in caught] == [
        "training stopped after 5 optimizer steps, but the plan runs 8 (4 epochs at 2 steps per epoch): what the plan does "
        "after step 5 (pruning updates, LR changes, QAT) did not happen. Train for the plan's steps, or compile the recipe "
        "with the steps per epoch your loop really takes"
    ]


def test_finalize_warns_when_training_ran_past_the_plan() -> None:
    model = Net()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    runner = attach(plan(), model, optimizer)
    train(model, optimizer, 10)
    with pytest.warns(RecipeRuntimeWarning, match=r"^training ran 10 optimizer steps, 2 past the plan's last step \(8\)"):
        runner.finalize()


def test_finalize_is_silent_after_exactly_the_plan() -> None:
    model = Net()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    runner = attach(plan(), model, optimizer)
    train(model, optimizer, 8)
    runner.finalize()  # filterwarnings = error: any warning fails this test


# -- a competing LR scheduler -------------------------------------------------------------
def test_a_competing_scheduler_is_reported_once() -> None:
    model = Net()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    runner = attach(plan(), model, optimizer)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    with pytest.warns(RecipeRuntimeWarning) as caught:
        train(model, optimizer, 8, after=scheduler.step)
    assert [str(w.message) for w in caught] == [
        "param group 0's LR changed from 0.05 to 0.025 before optimizer step 1, and not by the plan: another LR scheduler "
        "(or code) is competing with the recipe's LR modifiers. Remove it, or remove the recipe's LR modifiers (reported once)"
    ]
    runner.finalize()


def test_no_report_without_a_competitor() -> None:
    model = Net()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    runner = attach(plan(), model, optimizer)
    train(model, optimizer, 8)
    runner.finalize()


# -- names that differ by a wrapper's prefix ----------------------------------------------
class Lightning(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.model = Net()


def test_a_lightning_model_prefix_is_matched() -> None:
    wrapper = Lightning()
    runner = attach(plan(), wrapper, torch.optim.SGD(wrapper.parameters(), lr=0.1))
    assert runner._selected["s0"] == ["model.features.0.weight", "model.features.2.weight"]


def test_a_compiled_model_prefix_is_matched() -> None:
    net = Net()
    wrapper = torch.nn.Module()
    wrapper._orig_mod = net  # what torch.compile's OptimizedModule names it
    runner = attach(plan(), wrapper, torch.optim.SGD(wrapper.parameters(), lr=0.1))
    assert runner._selected["s0"] == ["_orig_mod.features.0.weight", "_orig_mod.features.2.weight"]


def test_a_recipe_written_for_the_wrapped_model_matches_the_bare_one() -> None:
    model = Net()
    runner = attach(plan("model.features.0.weight, re:model\\.features\\.2\\.weight"), model, torch.optim.SGD(model.parameters(), lr=0.1))
    assert runner._selected["s0"] == ["features.0.weight", "features.2.weight"]


def test_a_name_that_matches_nothing_even_without_the_prefix_says_so() -> None:
    wrapper = Lightning()
    with pytest.raises(RuntimeRefusal) as refused:
        attach(plan("features.9.weight"), wrapper, torch.optim.SGD(wrapper.parameters(), lr=0.1))
    assert re.sub(r"^.*?: ", "", str(refused.value), count=1) == (
        "'features.9.weight' matches no parameter of the model; every parameter of the model starts with 'model.', "
        "and no name matched with or without it"
    )


# -- "recorded, not executed" at attach ---------------------------------------------------
SET_PARAM = """  - !SetParamModifier
    start_epoch: 0.0
    params: [fc.bias]
    val: 0.0
"""


def test_attach_warns_about_what_it_will_not_execute_and_strict_refuses() -> None:
    compiled = plan(extra=SET_PARAM)
    model = Net()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(RuntimeRefusal, match=r"<recipe>:15:5 \(SetParamModifier\): strict: the runtime does not execute"):
        attach(compiled, model, optimizer, strict=True)
    assert not optimizer._optimizer_step_pre_hooks
    with pytest.warns(RecipeRuntimeWarning) as caught:
        runner = attach(compiled, model, optimizer)
    assert [str(w.message) for w in caught] == [
        "<recipe>:15:5 (SetParamModifier) is recorded in the plan but not executed: the recipekit runtime does not set parameter values"
    ]
    runner.detach()
    # From a plan file too: the runtime re-derives it from the plan's note instructions.
    model = Net()
    with pytest.warns(RecipeRuntimeWarning, match=r"^<recipe>:15:5 \(SetParamModifier\) is recorded in the plan but not executed"):
        attach(plan_from_json(compiled.to_json()), model, torch.optim.SGD(model.parameters(), lr=0.1))
