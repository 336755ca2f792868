"""LayerPruning swaps and restores modules exactly when SparseML 1.8.0's LayerPruningModifier did.

Fixtures: scripts/sparseml_fixtures/layer_pruning.py (SparseML itself, by hand). At attach,
after every step and after finalize, the module class at every name, the ``state_dict``
keys equal SparseML's, and the parameters (those of removed layers, still in the optimizer,
too), the momentum buffers and the loss equal them bit for bit where this machine computes
floats as the fixture's did (tests/fixture_compare.py, within its tolerance elsewhere).
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator

import pytest

torch = pytest.importorskip("torch")

import recipekit  # noqa: E402
from recipekit.runtime import RuntimeRefusal, attach  # noqa: E402
from recipekit.runtime.layers import Identity  # noqa: E402
from recipekit.runtime.misuse import RecipeRuntimeWarning  # noqa: E402
from tests.sparseml_steps import Run, assert_same, cases, load, models, replay  # noqa: E402

CASES = cases("layer_pruning")


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("case", CASES)
def test_structure_and_weights_equal_sparseml(case: str) -> None:
    fixture = load("layer_pruning", case)
    attached, ours, final = replay(fixture)
    assert_same("layer_pruning", attached, fixture["attached"], "attach")
    for step, (mine, theirs) in enumerate(zip(ours, fixture["steps"], strict=True)):
        assert_same("layer_pruning", mine, theirs, step)
    assert_same("layer_pruning", final, fixture["final"], "finalize")


def test_the_swap_happens_after_the_steps_backward() -> None:
    """start 1 at 2 steps per epoch: step 2 trains with the layer (its update moves it), steps 2-3 are swapped at 2's update."""
    fixture = load("layer_pruning", "layers_s1_e2")
    plan = recipekit.compile_recipe(fixture["recipe"], 2)
    (op,) = [i for i in plan.instructions if i["op"] == "replace_modules"]
    assert (op["step"], op["restore_step"], op["modules"]) == (2, 4, ["2"])
    _, ours, _ = replay(fixture)
    assert [s["modules"]["2"] for s in ours] == ["Linear", "Linear"] + ["Identity"] * 2 + ["Linear"] * 4
    assert not torch.equal(ours[1]["params"]["2.weight"], ours[2]["removed_params"]["2.weight"])  # step 2 still updated it


def test_identity_is_argument_insensitive() -> None:
    a, b = torch.ones(2), torch.zeros(2)
    assert Identity()(a, scale=3) is a
    assert Identity()(a, b) == (a, b)


@pytest.mark.parametrize("stop", [1, 3, 5])
def test_resume_before_during_and_after_removal_equals_the_unbroken_run(stop: int) -> None:
    fixture = load("layer_pruning", "layers_s1_e2")
    run = Run(fixture)
    runner = run.attach()
    for k in range(stop):
        run.step(runner, k)
    saved = (runner.state_dict(), {k: v.clone() for k, v in run.model.state_dict().items()}, run.optimizer.state_dict())
    runner.detach()
    resumed = Run(fixture)
    runner = resumed.attach()
    runner.load_state_dict(saved[0])  # first: the model then has the structure it was saved with
    resumed.model.load_state_dict(saved[1])
    resumed.optimizer.load_state_dict(saved[2])
    for k in range(stop, len(fixture["batches"])):
        assert_same("layer_pruning", resumed.step(runner, k), fixture["steps"][k], k)
    runner.finalize()
    assert_same("layer_pruning", resumed.snapshot(), fixture["final"], "finalize")


RECIPE = """
modifiers:
  - !EpochRangeModifier
    start_epoch: 0.0
    end_epoch: 2.0
  - !LayerPruningModifier
    layers: {layers}
    start_epoch: -1.0
    end_epoch: {end}
  - !GMPruningModifier
    params: {params}
    init_sparsity: 0.1
    final_sparsity: 0.5
    start_epoch: 0.0
    end_epoch: 1.0
    update_frequency: 0.5
"""


def _attach(layers: str, params: str, end: float = -1.0, model: object = None) -> object:
    model = model or models("deep")
    plan = recipekit.compile_recipe(textwrap.dedent(RECIPE.format(layers=layers, params=params, end=end)), 2)
    return attach(plan, model, torch.optim.SGD(model.parameters(), lr=0.1))  # type: ignore[attr-defined]


@pytest.mark.parametrize(("layers", "message"), [("['__ALL__']", "selects the model itself"), ("['9']", "'9' is not a module")])
def test_refusals_leave_the_model_unchanged(layers: str, message: str) -> None:
    model = models("deep")
    with pytest.raises(RuntimeRefusal, match=message):
        _attach(layers, "['0.weight']", model=model)
    assert [type(m).__name__ for m in model] == ["Linear", "ReLU", "Linear", "ReLU", "Linear"]


def test_a_pruner_ordered_after_the_removal_never_sees_the_removed_layer() -> None:
    # LayerPruning ends at 0.5, before GMPruning's end: SparseML initialised it first, so the
    # pruner's selection came up empty (ValueError); with another match the removed one is dropped.
    with pytest.raises(RuntimeRefusal, match="every parameter it selects is inside layers"):
        _attach("['2']", "['2.weight']", end=0.5)
    runner = _attach("['2']", "['re:.*weight']", end=0.5)
    (prune,) = [i for i in runner.plan.instructions if i["op"] == "prune"]  # type: ignore[attr-defined]
    assert runner._selected[prune["selector"]] == ["0.weight", "4.weight"]  # type: ignore[attr-defined]


def test_pruning_weights_of_a_removed_layer_warns() -> None:
    # GMPruning (end 1) comes before LayerPruning (end -1) in SparseML's order: it saw layer 2 and pruned it.
    with pytest.warns(RecipeRuntimeWarning, match=r"removes layers holding 1 parameters other modifiers act on \(\['2.weight'\]\)"):
        _attach("['2']", "['0.weight', '2.weight']")
