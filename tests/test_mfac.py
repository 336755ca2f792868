"""M-FAC runs as SparseML 1.8.0's MFACPruningModifier did on the CPU, bit for bit.

Fixtures: scripts/sparseml_fixtures/mfac.py (SparseML itself, by hand): sampler mode with one
Fisher block (B 2000, layer-wise), blocks spanning parameters (B 7, global), the unblocked
inverse (``fisher_block_size: null``, ``available_devices: []``), block4 masks, a ``num_grads``
mapping, and buffering mode (no sampler) whose ring buffer holds steps 4, 5, 6, 3 at its first
update. After every step the masks equal SparseML's, and the parameters and momentum equal them
bit for bit where this machine computes floats as the fixture's did (tests/fixture_compare.py).
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator

import pytest

torch = pytest.importorskip("torch")

import recipekit  # noqa: E402
from recipekit.compiler import compile_source  # noqa: E402
from recipekit.runtime import GradSampler, RuntimeRefusal, attach  # noqa: E402
from recipekit.runtime.algorithms import mfac  # noqa: E402
from recipekit.source import Source  # noqa: E402
from tests import fixture_compare  # noqa: E402
from tests.sparseml_steps import Run, assert_same, cases, load, models, replay  # noqa: E402

CASES = cases("mfac")


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("case", CASES)
def test_every_step_equals_sparseml(case: str) -> None:
    fixture = load("mfac", case)
    _, ours, final = replay(fixture, exact_optimizer_state=True)
    for step, (mine, theirs) in enumerate(zip(ours, fixture["steps"], strict=True)):
        assert_same("mfac", mine, theirs, step)
    assert_same("mfac", final, fixture["final"], "finalize")


@pytest.mark.parametrize("case", ["mfac_b7_global", "mfac_buffering_ring"])
def test_the_fast_path_gives_the_same_weights(case: str) -> None:
    """Without exact_optimizer_state the runtime clears the state at pruned weights: the weights stay SparseML's."""
    fixture = load("mfac", case)
    _, ours, _ = replay(fixture)
    fix = fixture_compare.topic("mfac")
    for step, (mine, theirs) in enumerate(zip(ours, fixture["steps"], strict=True)):
        for name, value in theirs["params"].items():
            fix.floats(mine["params"][name], value, (step, name))


def test_sampling_steps_lose_their_optimizer_update_and_buffering_steps_do_not() -> None:
    _, sampled, _ = replay(load("mfac", "mfac_b7_global"))
    # Step 2 samples (update at epoch 1): the bias of layer 0 does not move; step 1 trains normally.
    assert torch.equal(sampled[2]["params"]["0.bias"], sampled[1]["params"]["0.bias"])
    assert not torch.equal(sampled[1]["params"]["0.bias"], sampled[0]["params"]["0.bias"])
    _, buffered, _ = replay(load("mfac", "mfac_buffering_ring"))
    assert not torch.equal(buffered[6]["params"]["0.bias"], buffered[5]["params"]["0.bias"])


def test_the_ring_holds_steps_4_5_6_3_at_the_first_buffered_update() -> None:
    fixture = load("mfac", "mfac_buffering_ring")
    run = Run(fixture)
    runner = run.attach()
    grads = []
    scorer = next(iter(runner._scorers.values()))  # type: ignore[attr-defined]
    rows_at_update = None
    for k in range(7):
        x, y = fixture["batches"][k]
        run.optimizer.zero_grad()
        run.loss_fn(run.model(x), y).backward()
        grads.append(torch.cat([run.model[0].weight.grad.reshape(-1), run.model[2].weight.grad.reshape(-1)]))
        if k == 6:
            scorer.every_step()  # what the pre-step hook does first; then the update consumes the ring
            rows_at_update = scorer.ring.buffer.clone()
            scorer.step -= 1
        run.optimizer.step()
    assert rows_at_update is not None
    assert all(torch.equal(rows_at_update[i], grads[k]) for i, k in enumerate([4, 5, 6, 3]))


def test_num_grads_mapping_takes_the_first_threshold_at_or_above() -> None:
    table = {"0.0": 64, "0.5": 128, "0.75": 256}
    assert [mfac.num_grads_for(table, s) for s in (0.0, 0.3, 0.5, 0.6, 0.9)] == [64, 128, 128, 256, 256]


def test_resume_between_updates_keeps_the_ring_buffer() -> None:
    fixture = load("mfac", "mfac_buffering_ring")
    run = Run(fixture)
    runner = run.attach(exact_optimizer_state=True)
    for k in range(8):
        run.step(runner, k)
    saved = (runner.state_dict(), {k: v.clone() for k, v in run.model.state_dict().items()}, run.optimizer.state_dict())
    runner.detach()
    resumed = Run(fixture)
    runner = resumed.attach(exact_optimizer_state=True)
    runner.load_state_dict(saved[0])
    resumed.model.load_state_dict(saved[1])
    resumed.optimizer.load_state_dict(saved[2])
    for k in range(8, len(fixture["batches"])):
        assert_same("mfac", resumed.step(runner, k), fixture["steps"][k], k)


MFAC = """
modifiers:
  - !EpochRangeModifier
    start_epoch: 0.0
    end_epoch: 3.0
  - !MFACPruningModifier
    params: ['0.weight', '2.weight']
    init_sparsity: 0.5
    final_sparsity: 0.75
    start_epoch: {start}
    end_epoch: 2.0
    update_frequency: 1.0
    num_grads: {num_grads}
    damp: 0.0001
    fisher_block_size: {block}{extra}
"""


def _codes(start: float = 1.0, num_grads: str = "4", block: str = "8", extra: str = "") -> list[tuple[int, int, str]]:
    text = textwrap.dedent(MFAC.format(start=start, num_grads=num_grads, block=block, extra=extra))
    _, diagnostics = compile_source(Source("r.yaml", text), 2)
    return [(d.location.line, d.location.column, d.code) for d in diagnostics if d.code.startswith("C")]


def test_compile_refuses_what_sparseml_crashed_on() -> None:
    # SparseML's FisherInverseFastPageSwap asserts CUDA (fixture script: AssertionError on CPU).
    assert _codes(block="null") == [(15, 24, "C428")]
    assert _codes(block="null", extra="\n    available_devices: []") == []
    assert _codes(num_grads="{0.5: 4}") == [(13, 16, "C429")]
    assert _codes(num_grads="{0.0: 4, 0.5: 8}") == []


def _attach(start: float, num_grads: str, sampler: bool) -> object:
    model = models("mlp")
    plan = recipekit.compile_recipe(textwrap.dedent(MFAC.format(start=start, num_grads=num_grads, block="8", extra="")), 2)
    loss = torch.nn.CrossEntropyLoss()
    grad_sampler = GradSampler(lambda _: lambda: iter([([torch.randn(2, 16)], {}, torch.tensor([0, 1]))] * 8), loss) if sampler else None
    return attach(plan, model, torch.optim.SGD(model.parameters(), lr=0.1), grad_sampler=grad_sampler)


def test_buffering_that_would_run_short_is_refused_at_attach() -> None:
    # SparseML: start 0 without a sampler raised "only 1 were collected from the expected 4" at step 0.
    with pytest.raises(RuntimeRefusal, match=r"update at step 0 would have 1 of num_grads 4"):
        _attach(0.0, "4", sampler=False)
    with pytest.raises(RuntimeRefusal, match=r"update at step 2 would have 3 of num_grads 4"):
        _attach(1.0, "4", sampler=False)  # steps 0, 1, 2
    with pytest.raises(RuntimeRefusal, match=r"update at step 4 would have 2 of num_grads 3"):
        _attach(1.0, "3", sampler=False)  # the buffer restarts after step 2's update: steps 3, 4
    _attach(0.0, "4", sampler=True)  # a sampler draws them at each update


def test_explicit_buffering_that_would_run_short_is_refused_at_compile() -> None:
    assert _codes(start=0.0, extra="\n    use_gradient_buffering: true") == [(13, 16, "C430")]
    assert _codes(start=0.0) == []  # the sampler decides at attach (test above)
