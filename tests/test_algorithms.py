"""The runtime's OBS, Movement, Structured and distillation match SparseML 1.8.0 bit for bit.

Each fixture under tests/fixtures/sparseml/algorithms/ was written by SparseML itself
(scripts/sparseml_fixtures/algorithms.py, run by hand in a SparseML venv): a recipe,
initial weights, fixed batches and gradient samples, and after every step the
parameters, the masks and the loss. We compile the same recipe, attach to the same
model and optimizer, run the same loop and compare: masks exactly, parameters and loss bit
for bit where this machine computes floats as the fixture's did (tests/fixture_compare.py,
within its tolerance elsewhere).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

torch = pytest.importorskip("torch")

import recipekit  # noqa: E402
from recipekit.runtime import GradSampler, attach  # noqa: E402
from tests import fixture_compare  # noqa: E402

FIX = fixture_compare.topic("algorithms")
CASES = FIX.cases()


def models(kind: str) -> Any:
    """Twin of ``models`` in scripts/sparseml_fixtures/algorithms.py."""
    if kind == "mlp":
        return torch.nn.Sequential(torch.nn.Linear(16, 16), torch.nn.ReLU(), torch.nn.Linear(16, 16))
    if kind == "teacher":
        return torch.nn.Sequential(torch.nn.Linear(16, 16), torch.nn.ReLU(), torch.nn.Dropout(0.5), torch.nn.Linear(16, 16))
    return torch.nn.Sequential(torch.nn.Conv2d(4, 8, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(32, 4))


@pytest.fixture(autouse=True)
def deterministic() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def replay(case: str) -> tuple[dict[str, Any], list[dict[str, Any]], Any]:
    fixture = FIX.load(f"{case}.pt")
    model = models(fixture["kind"])
    model.load_state_dict(fixture["init"])
    teacher = models("teacher")
    teacher.load_state_dict(fixture["teacher"])
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    plan = recipekit.compile_recipe(fixture["recipe"], fixture["spe"])
    loss_fn = torch.nn.CrossEntropyLoss()
    samples = fixture["sampler"]
    sampler = GradSampler(lambda kwargs: lambda: iter([([x], {}, y) for x, y in samples]), loss_fn)
    runner = attach(plan, model, optimizer, grad_sampler=sampler if samples else None, teacher=teacher if fixture["distill"] else None)
    ours = []
    for x, y in fixture["batches"]:
        optimizer.zero_grad()
        outputs = model(x)
        loss = loss_fn(outputs, y)
        if fixture["distill"]:
            loss = runner.distillation_loss(loss, outputs, x)
        loss.backward()
        optimizer.step()
        masks = {n: m.float() for n, m in runner.masks().items()}
        ours.append({"params": {n: p.detach().clone() for n, p in model.named_parameters()}, "masks": masks, "loss": loss.detach()})
    runner.finalize()
    return fixture, ours, runner


@pytest.mark.parametrize("case", CASES)
def test_every_step_equals_sparseml(case: str) -> None:
    fixture, ours, _ = replay(case)
    rtol = fixture_compare.FISHER_RTOL if case.startswith("obs") else fixture_compare.RTOL  # see FISHER_RTOL
    assert len(ours) == len(fixture["steps"])
    for step, (mine, theirs) in enumerate(zip(ours, fixture["steps"], strict=True)):
        FIX.floats(mine["loss"], theirs["loss"], (step, "loss"), rtol=rtol)
        for key, mask in theirs["masks"].items():
            name = key.removesuffix(".sparsity_mask")
            # SparseML holds all-ones masks from initialize; ours exist from the first update.
            FIX.exact(mine["masks"].get(name, torch.ones_like(mask)), mask, (step, "mask", name))
        FIX.exact(sorted(mine["params"]), sorted(theirs["params"]), (step, "params"))
        for name, value in theirs["params"].items():
            FIX.floats(mine["params"][name], value, (step, name), rtol=rtol)
