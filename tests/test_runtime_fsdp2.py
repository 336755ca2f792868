"""Two gloo processes around an FSDP2 (fully_shard) model replay a plan like one process does."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")

import recipekit  # noqa: E402
from recipekit.plan.model import Plan, plan_from_json  # noqa: E402
from recipekit.runtime import RuntimeRefusal, attach, sharded  # noqa: E402

RECIPE = """\
version: 1.1.0
modifiers:
  - !EpochRangeModifier {start_epoch: 0.0, end_epoch: 6.0}
  - !LearningRateFunctionModifier {start_epoch: 0.0, end_epoch: 4.0, lr_func: cosine, init_lr: 0.05, final_lr: 0.005}
  - !SetWeightDecayModifier {start_epoch: 2.0, weight_decay: 0.0}
  - !GMPruningModifier
    params: ["0.weight", "2.weight"]
    init_sparsity: 0.2
    final_sparsity: 0.8
    start_epoch: 0.0
    end_epoch: 4.0
    update_frequency: 1.0
  - !QuantizationModifier {start_epoch: 4.0, disable_quantization_observer_epoch: 5.0}
"""
WORLD, GLOBAL_BATCH = 2, 8


def net() -> Any:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(8, 13), torch.nn.ReLU(), torch.nn.Linear(13, 5))  # 13 rows: uneven shards


def run(plan: Plan, rank: int | None, stop: int | None = None, resume: Path | None = None, save: Path | None = None) -> dict[str, Any]:
    """Train with the plan; rank None is the single-process reference on the whole global batch."""
    model = net()
    if rank is not None:
        from torch.distributed.device_mesh import init_device_mesh
        from torch.distributed.fsdp import fully_shard

        mesh = init_device_mesh("cpu", (WORLD,))
        for layer in (model[0], model[2], model):
            fully_shard(layer, mesh=mesh)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=0.05)
    runner = attach(plan, model, optimizer)
    if resume is not None:
        saved = torch.load(resume, weights_only=False)  # this test's own file
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        runner.load_state_dict(saved["runner"])
    share = GLOBAL_BATCH if rank is None else GLOBAL_BATCH // WORLD
    lrs, decays = [], []
    while not runner.done and runner.step_index != stop:
        step = runner.step_index
        x = torch.randn(GLOBAL_BATCH, 8, generator=torch.Generator().manual_seed(step))[(rank or 0) * share : ((rank or 0) + 1) * share]
        optimizer.zero_grad()
        model(x).pow(2).mean().backward()
        optimizer.step()
        lrs.append(optimizer.param_groups[0]["lr"])
        decays.append(optimizer.param_groups[0]["weight_decay"])
    if save is not None:
        torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "runner": runner.state_dict()}, save)
        return {}
    runner.finalize()
    named = dict(model.named_parameters())
    return {
        "masks": {name: sharded.full_like(mask, named[name]).bool() for name, mask in runner.masks().items()},
        "mask_numel": {name: mask.numel() for name, mask in runner.masks().items()},
        "weights": {name: sharded.full(param.detach()).clone() for name, param in named.items()},
        "lrs": lrs,
        "decays": decays,
        "qat": (runner.qat_enabled, runner.qat_observing),
    }


def _worker(rank: int, init_file: str, plan_json: str, out_dir: str) -> None:
    torch.distributed.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD)
    try:
        plan, out = plan_from_json(plan_json), Path(out_dir)
        torch.save(run(plan, rank), out / f"rank{rank}.pt")
        run(plan, rank, stop=5, save=out / f"checkpoint{rank}.pt")  # interrupted after step 5, inside the pruning window
        torch.save(run(plan, rank, resume=out / f"checkpoint{rank}.pt"), out / f"resumed{rank}.pt")
        gc.collect()  # the models and runners hold reference cycles to the group: free them before it is destroyed
        torch.distributed.barrier()  # both ranks done before gloo is torn down (as in test_runtime_ddp.py)
    finally:
        torch.distributed.destroy_process_group()


@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed is not available")
def test_two_fully_sharded_gloo_ranks_match_each_other_and_a_single_process(tmp_path: Path) -> None:
    plan = recipekit.compile_recipe(RECIPE, 2)
    torch.multiprocessing.spawn(_worker, args=(str(tmp_path / "init"), plan.to_json(), str(tmp_path)), nprocs=WORLD, join=True)
    ranks = [torch.load(tmp_path / f"rank{rank}.pt", weights_only=True) for rank in range(WORLD)]
    resumed = [torch.load(tmp_path / f"resumed{rank}.pt", weights_only=True) for rank in range(WORLD)]
    single = run(plan, None)
    assert sorted(single["masks"]) == ["0.weight", "2.weight"]
    # Each rank keeps only its shard of each mask: 13 rows split 7 + 6.
    assert [r["mask_numel"] for r in ranks] == [{"0.weight": 7 * 8, "2.weight": 3 * 13}, {"0.weight": 6 * 8, "2.weight": 2 * 13}]
    for result in ranks:
        assert result["lrs"] == single["lrs"] and result["decays"] == single["decays"]
        assert result["qat"] == single["qat"] == (True, False)
        for name, mask in single["masks"].items():
            assert torch.equal(result["masks"][name], mask), name  # bit for bit: no top-k on a local shard
        for name, weight in single["weights"].items():
            assert torch.equal(result["weights"][name], ranks[0]["weights"][name]), name
            # Reduce-scatter averaging rounds differently from one big batch (and fake quantization can move such a
            # difference by a step); pruned zeros are exact either way.
            torch.testing.assert_close(result["weights"][name], weight, rtol=1e-4, atol=1e-4)
    for name in single["masks"]:
        assert int((ranks[0]["weights"][name] == 0).sum()) == int((single["weights"][name] == 0).sum()) > 0
    for rank in range(WORLD):  # interrupted at step 5 and resumed: the weights of the uninterrupted run
        for name, weight in ranks[rank]["weights"].items():
            assert torch.equal(resumed[rank]["weights"][name], weight), name


def test_a_mask_saved_at_another_world_size_is_refused_naming_the_parameter() -> None:
    """A sharded run's state holds each rank's shard: resuming with other shards would mask the wrong rows."""
    plan = recipekit.compile_recipe(RECIPE, 2)
    model = net()
    runner = attach(plan, model, torch.optim.SGD(model.parameters(), lr=0.1))
    state = runner.state_dict()
    state["masks"] = {"0.weight": torch.ones(7, 8, dtype=torch.bool)}  # rank 0's shard of 13 rows over 2 ranks
    with pytest.raises(RuntimeRefusal, match=r"the saved mask of '0.weight' has shape \[7, 8\], not this rank's \[13, 8\]"):
        runner.load_state_dict(state)


ACDC = """\
modifiers:
  - !EpochRangeModifier
    start_epoch: 0.0
    end_epoch: 4.0
  - !ACDCPruningModifier
    params: ["0.weight"]
    compression_sparsity: 0.5
    start_epoch: 0.0
    end_epoch: 4.0
    update_frequency: 1
"""

LAYERS = """\
modifiers:
  - !EpochRangeModifier
    start_epoch: 0.0
    end_epoch: 4.0
  - !LayerPruningModifier
    layers: ["1"]
    start_epoch: 1.0
    end_epoch: 3.0
"""


@pytest.mark.parametrize(("recipe", "message"), [(ACDC, "AC/DC on FSDP2-sharded parameters"), (LAYERS, "LayerPruning swaps modules")])
def test_what_sharded_parameters_cannot_run_is_refused_before_anything_changes(
    recipe: str, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Which parameters are DTensors is all the check reads: pretend every one is, without a process group.
    from recipekit.runtime import runner as runner_module

    monkeypatch.setattr(runner_module.sharded, "names", set)
    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    before = {name: value.clone() for name, value in model.state_dict().items()}
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    with pytest.raises(RuntimeRefusal, match=message):
        attach(recipekit.compile_recipe(recipe, 2), model, optimizer)
    assert not optimizer._optimizer_step_pre_hooks and not optimizer._optimizer_step_post_hooks
    assert isinstance(model[1], torch.nn.ReLU)
    assert all(torch.equal(value, before[name]) for name, value in model.state_dict().items())
