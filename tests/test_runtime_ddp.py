"""Two gloo processes around a DistributedDataParallel model replay a plan like one process does."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")

import recipekit  # noqa: E402
from recipekit.plan.model import Plan, plan_from_json  # noqa: E402
from recipekit.runtime import attach  # noqa: E402
from tests.runtime_models import Net  # noqa: E402

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "recipe.yaml"
WORLD = 2
GLOBAL_BATCH = 8


def batch(step: int) -> torch.Tensor:
    return torch.randn(GLOBAL_BATCH, 3, 8, 8, generator=torch.Generator().manual_seed(step))


def run(plan: Plan, rank: int | None) -> dict[str, Any]:
    """Train with the plan; rank None is the single-process reference on the whole global batch."""
    torch.manual_seed(0)
    model = Net()
    trained: torch.nn.Module = model if rank is None else torch.nn.parallel.DistributedDataParallel(model)
    optimizer = torch.optim.SGD(trained.parameters(), lr=0.1, momentum=0.9)
    runner = attach(plan, trained, optimizer)
    lrs, unmasked = [], 0
    share = GLOBAL_BATCH if rank is None else GLOBAL_BATCH // WORLD
    named = dict(trained.named_parameters())
    for step in range(plan.total_steps):
        x = batch(step)[(rank or 0) * share : ((rank or 0) + 1) * share]
        optimizer.zero_grad()
        trained(x).pow(2).mean().backward()  # DDP averages the gradients: the mean over the global batch
        # Masked during backward, before DDP's all-reduce and before any gradient clipping could see them.
        unmasked += sum(int((named[n].grad[~mask] != 0).sum()) for n, mask in runner.masks().items() if named[n].grad is not None)
        optimizer.step()
        lrs.append(optimizer.param_groups[0]["lr"])
    runner.finalize()
    masks = {name.removeprefix("module."): mask for name, mask in runner.masks().items()}
    return {"weights": model.state_dict(), "masks": masks, "lrs": lrs, "unmasked_grads": unmasked}


def _worker(rank: int, init_file: str, plan_json: str, out_dir: str) -> None:
    torch.distributed.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD)
    try:
        result = run(plan_from_json(plan_json), rank)
        torch.save(result, Path(out_dir) / f"rank{rank}.pt")
        # Both ranks done before either tears gloo down: a rank exiting while its peer still talks
        # to it aborts the process ("terminate called without an active exception") on a busy machine.
        gc.collect()  # the models and runners hold reference cycles to the group: free them before it is destroyed
        torch.distributed.barrier()
    finally:
        torch.distributed.destroy_process_group()


@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed is not available")
def test_two_gloo_ranks_match_each_other_and_a_single_process(tmp_path: Path) -> None:
    plan = recipekit.compile_recipe(EXAMPLE, 2, variables={"num_epochs": 12, "lr_milestones": [4, 8]})
    torch.multiprocessing.spawn(_worker, args=(str(tmp_path / "init"), plan.to_json(), str(tmp_path)), nprocs=WORLD, join=True)
    ranks = [torch.load(tmp_path / f"rank{rank}.pt", weights_only=True) for rank in range(WORLD)]
    single = run(plan, None)
    assert sorted(single["masks"]) == ["features.0.weight", "features.2.weight"]
    for result in [*ranks, single]:
        assert result["unmasked_grads"] == 0
    for result in ranks:
        assert result["lrs"] == ranks[0]["lrs"] == single["lrs"]
        for name, mask in single["masks"].items():
            assert torch.equal(result["masks"][name], ranks[0]["masks"][name]), name
            assert torch.equal(result["masks"][name], mask), name
        for name, weight in single["weights"].items():
            assert torch.equal(result["weights"][name], ranks[0]["weights"][name]), name  # the ranks agree bitwise
            # All-reduced averaging rounds differently from one big batch; pruned zeros are exact either way.
            torch.testing.assert_close(result["weights"][name], weight, rtol=1e-5, atol=1e-6)
    for name in single["masks"]:
        assert int((ranks[0]["weights"][name] == 0).sum()) == int((single["weights"][name] == 0).sum()) > 0
