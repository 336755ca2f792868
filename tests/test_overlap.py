"""Issue 22, item 1: pruning modifiers that share a parameter, against SparseML 1.8.0's own runs.

tests/fixtures/sparseml/overlap/ was written by SparseML itself (``scripts/make_sparseml_fixtures.py
overlap``): each modifier kept its own mask, computed from the weights as the modifiers before it
in the manager's order had left them, and applied them one after the other, so the zeros are the
union of the enabled masks' zeros. Masks and zero counts are compared exactly; weights and momentum
through ``tests/fixture_compare.py`` (bit for bit where the fixture's machine fingerprint matches).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest

import recipekit

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from recipekit.runtime import attach  # noqa: E402
from tests import fixture_compare  # noqa: E402
from tests.sparseml_steps import replay_recorded_gradients  # noqa: E402

FIX = fixture_compare.topic("overlap")
TRAINING: dict[str, Any] = FIX.load("training.pt")
RUNS = TRAINING["runs"]


def _sparseml_mask(run: dict[str, Any], param: str, k: int) -> Any:
    """The product of the enabled modifiers' masks on ``param`` after step k (None: no mask enabled)."""
    steps = run["steps"]
    enabled = [per[param][k] for per, on in zip(steps["masks"], steps["enabled"], strict=True) if param in per and on[k]]
    if not enabled:
        return None
    combined = enabled[0].clone()
    for mask in enabled[1:]:
        combined &= mask
    return combined


def _train(run: dict[str, Any], exact_optimizer_state: bool) -> tuple[nn.Module, list[Any]]:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # two pruners on one tensor are SparseML's behaviour, not a runtime warning
        model, _, _, history = replay_recorded_gradients(TRAINING, run, exact_optimizer_state)
    return model, history


def test_fixture_runs_overlap_in_both_manager_orders() -> None:
    """The fixture exercises what it says: shared tensors, and both a higher and a lower target first."""
    for run in RUNS.values():
        shared = [p for per in run["steps"]["masks"] for p in per]
        assert "0.weight" in shared and shared.count("0.weight") == 2
    firsts = {run["order"][0]["final_sparsity"] > (run["order"][1]["final_sparsity"] or 0.0) for run in RUNS.values()}
    assert firsts == {True, False}
    # yolact.pruned.perf.md's case: the higher target first in the manager's order, and the zeros
    # are the union, not the last modifier's own count (SparseML 211 where one mask gives 210).
    run = RUNS["same schedule, the higher target first"]
    assert [o["final_sparsity"] for o in run["order"]] == [0.92, 0.87]
    counts = [int((run["steps"]["weights"]["0.weight"][k] == 0).sum()) for k in range(8)]
    last = [int((~run["steps"]["masks"][1]["0.weight"][k]).sum()) for k in range(8)]
    assert counts == [22, 38, 48, 54, 58, 59, 59, 59] and last == [22, 36, 46, 52, 54, 56, 56, 56]


@pytest.mark.parametrize("exact_optimizer_state", [True, False], ids=["exact-state", "fast-path"])
@pytest.mark.parametrize("name", list(RUNS))
def test_overlapping_pruners_equal_sparseml(name: str, exact_optimizer_state: bool) -> None:
    run = RUNS[name]
    model, history = _train(run, exact_optimizer_state)
    for k, (masks, weights, momentum) in enumerate(history):
        for param in ("0.weight", "2.weight"):
            # No mask in force keeps everything (AC/DC's decompressed phases keep an all-ones mask enabled).
            ones = torch.ones_like(weights[param], dtype=torch.bool)
            theirs = _sparseml_mask(run, param, k)
            FIX.exact(masks.get(param, ones), ones if theirs is None else theirs, (k, param))
            zeros = int((weights[param] == 0).sum())
            assert zeros == int((run["steps"]["weights"][param][k] == 0).sum()), (k, param, zeros)
        for param in weights:
            FIX.floats(weights[param], run["steps"]["weights"][param][k], (k, param))
            # The fast path clears the optimizer state at weights a held mask prunes (never at a shared tensor's).
            full = exact_optimizer_state or param == "0.weight"
            kept = ... if full else masks.get(param, torch.ones_like(momentum[param], dtype=torch.bool))
            FIX.floats(momentum[param][kept], run["steps"]["momentum"][param][k][kept], (k, param))
    for param, value in model.named_parameters():
        FIX.floats(value.detach(), run["final"][param], param)


@pytest.mark.parametrize("name", ["different update frequencies", "lower target later, released", "GM released, then constant"])
def test_resumed_run_equals_sparseml(name: str, tmp_path: Path) -> None:
    """A checkpoint holds each modifier's own mask: a run resumed mid-overlap ends on SparseML's weights."""
    run = RUNS[name]
    plan = recipekit.compile_recipe(run["recipe"], TRAINING["steps_per_epoch"])
    total = run["steps"]["weights"]["0.bias"].shape[0]
    state: dict[str, Any] | None = None
    for start, stop in ((0, 3), (3, 5), (5, total)):
        model = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 4))
        model.load_state_dict(TRAINING["initial"] if state is None else state["model"])
        optimizer = torch.optim.SGD(model.parameters(), lr=TRAINING["lr"], momentum=TRAINING["momentum"])
        if state is not None:
            optimizer.load_state_dict(state["optimizer"])
        runner = attach(plan, model, optimizer, exact_optimizer_state=True)
        if state is not None:
            runner.load_state_dict(state["runner"])
        params = dict(model.named_parameters())
        for k in range(start, stop):
            optimizer.zero_grad(set_to_none=True)
            sum((params[n] * run["grads"][n][k]).sum() for n in params).backward()
            optimizer.step()
        saved = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "runner": runner.state_dict()}
        if stop == 3:
            assert set(saved["runner"]["owned_masks"]) == {"0.weight"}  # the shared tensor only
        torch.save(saved, tmp_path / "c.pt")
        state = torch.load(tmp_path / "c.pt", weights_only=True)
        if stop < total:
            runner.detach()
    runner.finalize()
    for param, value in model.named_parameters():
        FIX.floats(value.detach(), run["final"][param], param)
