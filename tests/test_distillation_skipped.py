"""A loop that forgets runner.distillation_loss hears it once, and the count at finalize (not once per step)."""

from __future__ import annotations

import warnings

import pytest

torch = pytest.importorskip("torch")

import recipekit  # noqa: E402
from recipekit.runtime import DistillationSkipped, attach  # noqa: E402

RECIPE = """
modifiers:
  - !EpochRangeModifier
    start_epoch: 0.0
    end_epoch: 3.0
  - !DistillationModifier
    start_epoch: 1.0
    end_epoch: 2.0
    hardness: 0.5
    temperature: 2.0
"""


def _run(distil_from: int) -> list[str]:
    torch.manual_seed(0)
    model, teacher = torch.nn.Linear(4, 3), torch.nn.Linear(4, 3)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    runner = attach(recipekit.compile_recipe(RECIPE, 2), model, optimizer, teacher=teacher)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for k in range(6):
            x = torch.randn(2, 4)
            optimizer.zero_grad()
            loss = model(x).pow(2).mean()
            if k >= distil_from:
                loss = runner.distillation_loss(loss, model(x), x)
            loss.backward()
            optimizer.step()
        runner.finalize()
    return [str(w.message) for w in caught if w.category is DistillationSkipped]


def test_skipped_steps_warn_once_then_count_at_finalize() -> None:
    messages = _run(distil_from=99)  # window: steps 2, 3, 4 (the step at end_epoch included)
    assert len(messages) == 2
    assert "step 2 is inside the distillation window" in messages[0]
    assert "3 steps inside the distillation window trained without the teacher" in messages[1]


def test_one_skipped_step_is_one_warning() -> None:
    messages = _run(distil_from=3)
    assert len(messages) == 1 and "step 2" in messages[0]


def test_a_loop_that_distils_hears_nothing() -> None:
    assert _run(distil_from=0) == []
