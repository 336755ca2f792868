"""AC/DC runs as SparseML 1.8.0's ACDCPruningModifier did, over several phases, bit for bit.

Fixtures: scripts/sparseml_fixtures/acdc.py (SparseML itself, by hand). After every step
the masks equal SparseML's, and the parameters and optimizer state (SGD momentum, Adam
moments) equal them bit for bit where this machine computes floats as the fixture's did
(tests/fixture_compare.py, within its tolerance elsewhere): the decompressed phases (all-ones masks, stale momentum reviving
pruned weights), the momentum reset after the step of a D that follows a C, phase parity
at end_epoch, and no reset for Adam or with ``momentum_buffer_reset: false``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

torch = pytest.importorskip("torch")

import recipekit  # noqa: E402
from tests.sparseml_steps import Run, assert_same, cases, load, replay  # noqa: E402

CASES = cases("acdc")


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("case", CASES)
def test_every_step_equals_sparseml(case: str) -> None:
    fixture = load("acdc", case)
    _, ours, final = replay(fixture)
    for step, (mine, theirs) in enumerate(zip(ours, fixture["steps"], strict=True)):
        assert_same("acdc", mine, theirs, step)
    assert_same("acdc", final, fixture["final"], "finalize")


def test_phases_follow_sparsemls_parity_rule() -> None:
    """start 1, end 6, phase 1 at 2 steps per epoch: D C D C C, and C at end; end 5: D C D C, C at end."""
    for case, expected in (("acdc_s1_e6", "DCDCCC"), ("acdc_s1_e5_parity", "DCDCC")):
        plan = recipekit.compile_recipe(load("acdc", case)["recipe"], 2)
        (acdc,) = [i for i in plan.instructions if i["op"] == "acdc"]
        assert [p["step"] for p in acdc["phases"]] == [2 * e for e in range(1, len(expected) + 1)]
        assert "".join("C" if p["compress"] else "D" for p in acdc["phases"]) == expected


def test_momentum_is_zero_right_after_the_first_decompression_after_a_compression() -> None:
    fixture = load("acdc", "acdc_s1_e6")
    _, ours, _ = replay(fixture)
    buffers = [float(sum(v.abs().sum() for k, v in s["optimizer_state"].items() if k.endswith("momentum_buffer"))) for s in ours]
    # D at step 2 follows no C: no reset; D at step 6 follows the C at 4: reset after step 6's update.
    assert buffers[2] != 0.0 and buffers[6] == 0.0 and buffers[7] != 0.0


def test_resume_mid_run_equals_the_unbroken_run() -> None:
    fixture = load("acdc", "acdc_s1_e6")
    run = Run(fixture)
    runner = run.attach()
    for k in range(6):  # stop right after the D step whose momentum reset is due
        run.step(runner, k)
    saved = (runner.state_dict(), {k: v.clone() for k, v in run.model.state_dict().items()}, run.optimizer.state_dict())
    runner.detach()
    resumed = Run(fixture)
    runner = resumed.attach()
    runner.load_state_dict(saved[0])
    resumed.model.load_state_dict(saved[1])
    resumed.optimizer.load_state_dict(saved[2])
    for k in range(6, len(fixture["batches"])):
        assert_same("acdc", resumed.step(runner, k), fixture["steps"][k], k)


def test_acdc_no_longer_reports_not_executed() -> None:
    recipe = load("acdc", "acdc_s1_e6")["recipe"]
    from recipekit.compiler import compile_source
    from recipekit.source import Source

    _, diagnostics = compile_source(Source("r.yaml", recipe), 2)
    assert [d.code for d in diagnostics if d.code == "C410"] == []


CIFAR10_AC_DC = """\
training_modifiers:
  - !EpochRangeModifier
    start_epoch: 0
    end_epoch: 300
pruning_modifiers:
  - !ACDCPruningModifier
    compression_sparsity: 0.6
    start_epoch: 10
    end_epoch: 250
    update_frequency: 10
    params: ['re:.*conv.*.weight']
    global_sparsity: True
  - !GMPruningModifier
    init_sparsity: 0.6
    final_sparsity: 0.6
    start_epoch: 250
    end_epoch: 300
    update_frequency: 10
    params: ['re:.*conv.*.weight']
    mask_type: unstructured
"""


def test_expand_reports_the_owning_pruners_target_through_every_acdc_phase() -> None:
    """Issue 21 item 4: the third-party cifar10_ac_dc.yaml (Godofnothing/SparseMLResearch) in SparseML 1.8.

    Run by hand in the SparseML venv (1 step per epoch): the GMPruningModifier after the AC/DC owns the
    weights, and SparseML's ``applied_sparsity`` for them is None through every AC/DC phase (the AC/DC's
    own is 0.0 / 0.6), then 0.6 from epoch 250. expand printed 0.0 at the first, decompressed, step.
    """
    from recipekit.plan.simulate import expand

    plan = recipekit.compile_recipe(CIFAR10_AC_DC, 1)
    params = [
        {"name": "conv1.weight", "shape": [8, 3, 3, 3], "module_type": "Conv2d"},
        {"name": "conv2.weight", "shape": [8, 8, 3, 3], "module_type": "Conv2d"},
        {"name": "fc.weight", "shape": [2, 8], "module_type": "Linear"},
    ]
    changes = [(e["step"], e["target_sparsity"]) for e in expand(plan, params) if "target_sparsity" in e]
    assert changes == [(0, {"conv1.weight": None, "conv2.weight": None}), (250, {"conv1.weight": 0.6, "conv2.weight": 0.6})]
