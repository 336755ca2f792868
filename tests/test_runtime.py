"""The torch runtime: golden replay, refusals, resume, layering."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")

import recipekit  # noqa: E402
from recipekit.compiler import compile_source  # noqa: E402
from recipekit.runtime import GradSampler, PlanError, RecipeRuntimeWarning, RuntimeRefusal, attach  # noqa: E402
from recipekit.source import read_source  # noqa: E402
from tests.helpers import CORPUS, GOLDEN  # noqa: E402
from tests.runtime_models import Net, build_model, resume_in_pieces  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "recipe.yaml"
GOLDENS = sorted((GOLDEN / "sparseml").glob("*.json.gz")) if (GOLDEN / "sparseml").is_dir() else []


def make_optimizer(model: torch.nn.Module, spec: dict[str, Any]) -> torch.optim.Optimizer:
    named = dict(model.named_parameters())
    members = spec.get("param_group_members")
    groups = [{"params": [named[n] for n in names]} for names in members] if members else [{"params": list(named.values())}]
    return torch.optim.SGD(groups, lr=spec["lr"], momentum=spec["momentum"], weight_decay=spec["weight_decay"])


def golden_states(golden: dict[str, Any]) -> list[dict[str, Any]]:
    keys = ("lr", "weight_decay", "target_sparsity", "sparsity", "frozen", "qat", "qat_observers", "bn_frozen")
    state = {key: golden["events"][0][key] for key in keys}
    states, index = [], 0
    for step in range(golden["total_steps"]):
        while index < len(golden["events"]) and golden["events"][index]["step"] == step:
            event = golden["events"][index]
            for key in keys:
                if key in event:
                    state[key] = {**state[key], **event[key]} if key in ("target_sparsity", "sparsity") and index else event[key]
            index += 1
        states.append(dict(state))
    return states


def close(a: float, b: float) -> bool:
    return a == b or abs(a - b) <= 1e-12 * max(abs(a), abs(b))


def golden_grad_sampler(model: torch.nn.Module) -> GradSampler:
    """The goldens' stub: the model's output is a random linear function of its parameters (golden/README.md)."""
    generator = torch.Generator().manual_seed(2)

    def forward(*args: Any, **kwargs: Any) -> torch.Tensor:
        return sum((p * torch.randn(p.shape, generator=generator)).sum() for p in model.parameters() if p.requires_grad)

    model.forward = forward  # type: ignore[method-assign]
    return GradSampler(lambda kwargs: lambda: (([], {}, None) for _ in range(10_000)), lambda outputs, target: outputs)


@pytest.mark.skipif(not GOLDENS, reason="../shared/golden is not available")
@pytest.mark.parametrize("path", GOLDENS, ids=lambda p: p.name.removesuffix(".json.gz")[-60:])
@pytest.mark.filterwarnings("ignore:.*never observe:RuntimeWarning")  # the goldens run no forward pass
def test_runtime_reproduces_sparseml(path: Path) -> None:
    golden = json.loads(gzip.decompress(path.read_bytes()))
    if "sparseml_error" in golden or golden["total_steps"] == 0:
        pytest.skip("SparseML did not train this recipe")
    source, _ = read_source(CORPUS / golden["recipe"])
    assert source is not None
    plan, diagnostics = compile_source(source, golden["steps_per_epoch"])
    assert plan is not None
    for instruction in plan.instructions:
        if instruction["op"] == "prune" and instruction["score"]["kind"] in ("obs", "mfac"):
            # The goldens check the schedule (LR, decay, frozen sets, zero counts, QAT), which does not depend on how
            # weights are scored; OBS and M-FAC are checked bit for bit against SparseML in test_algorithms.py and
            # test_mfac.py. Their Fisher inverses on these synthetic models would take hours on two cores.
            instruction["score"] = {"kind": "magnitude"}
    torch.manual_seed(0)
    model = build_model(golden["params"], golden["modules_without_params"])
    optimizer = make_optimizer(model, golden["optimizer"])
    # Taken before attach: layer pruning takes layers out of the model, and SparseML kept pruning their weights.
    named = dict(model.named_parameters())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        runner = attach(plan, model, optimizer, grad_sampler=golden_grad_sampler(model), teacher="disable")
    # attach says what compile said: one warning per modifier recorded but not executed (C410).
    # (A quantizer that never observes is also named at attach; these runs have no forward pass to observe with.)
    not_executed = [d for d in diagnostics if d.code == "C410"]
    caught = [w for w in caught if "never observe" not in str(w.message)]
    # Layer pruning of layers a pruner also selects (the BERT "3layers" recipes): attach says so, once.
    caught = [w for w in caught if "removes layers holding" not in str(w.message)]
    assert len(caught) == len(not_executed)
    assert all(w.category is RecipeRuntimeWarning and "is recorded in the plan but not executed" in str(w.message) for w in caught)
    global_groups = [runner._selected[i["selector"]] for i in plan.instructions if i["op"] == "prune" and i["global_sparsity"]]
    global_names = {n for names in global_groups for n in names}
    used: list[tuple[list[float], list[float]]] = []
    optimizer.register_step_pre_hook(
        lambda opt, *_: used.append(([g["lr"] for g in opt.param_groups], [g["weight_decay"] for g in opt.param_groups]))
    )
    generator = torch.Generator().manual_seed(1)
    for step, expected in enumerate(golden_states(golden)):
        optimizer.zero_grad()
        for param in named.values():
            if param.requires_grad:
                param.grad = torch.randn(param.shape, generator=generator) * 1e-2
        optimizer.step()
        lrs, decays = used[-1]
        assert all(close(a, b) for a, b in zip(lrs, expected["lr"], strict=True)), (step, lrs, expected["lr"])
        assert all(close(a, b) for a, b in zip(decays, expected["weight_decay"], strict=True)), (step, decays)
        assert sorted(n for n, p in named.items() if not p.requires_grad) == expected["frozen"], step
        qat = (runner.qat_enabled, runner.qat_observing, runner.bn_frozen)
        assert qat == (expected["qat"], expected["qat_observers"], expected["bn_frozen"]), step
        for name, fraction in expected["sparsity"].items():
            if name in global_names:
                continue
            # Every count SparseML measured, whatever made it: one modifier's target, two modifiers' masks
            # multiplied (tests/test_overlap.py), a ConstantPruning hold, tied zeros.
            theirs = round(fraction * named[name].numel())
            assert int((named[name] == 0).sum()) == theirs, (step, name, expected["target_sparsity"].get(name))
        for names in global_groups:
            # One threshold across the tensors: the total is exact, the split depends on the weights.
            theirs = sum(round(expected["sparsity"][n] * named[n].numel()) for n in names)
            assert sum(int((named[n] == 0).sum()) for n in names) == theirs, (step, names[0], expected["target_sparsity"][names[0]])
    runner.finalize()


def compiled(spe: float = 4, **variables: Any) -> Any:
    return recipekit.compile_recipe(EXAMPLE, spe, variables=variables or None)


def train(model: torch.nn.Module, optimizer: torch.optim.Optimizer, steps: range, seed: int = 0) -> None:
    for step in steps:
        generator = torch.Generator().manual_seed(seed * 100_000 + step)
        x = torch.randn(4, 3, 8, 8, generator=generator)
        optimizer.zero_grad()
        model(x).pow(2).mean().backward()
        optimizer.step()


def test_example_trains_to_the_planned_sparsity_and_lr() -> None:
    torch.manual_seed(0)
    model, plan = Net(), compiled(spe=2, num_epochs=50, lr_milestones=[20, 30])
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    runner = attach(plan, model, optimizer)
    train(model, optimizer, range(plan.total_steps))
    assert runner.done and runner.step_index == 100
    runner.finalize()
    for name in ("features.0.weight", "features.2.weight"):
        weight = dict(model.named_parameters())[name]
        assert int((weight == 0).sum()) == round(weight.numel() * 0.85)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.05 * 0.1 * 0.1)
    assert int((model.classifier.weight == 0).sum()) == 0  # not selected by re:features.*.weight


def test_resume_is_bitwise_identical(tmp_path: Path) -> None:
    plan = compiled(spe=3)
    torch.manual_seed(0)
    reference = Net()
    initial = {k: v.clone() for k, v in reference.state_dict().items()}
    optimizer = torch.optim.SGD(reference.parameters(), lr=0.05, momentum=0.9)
    attach(plan, reference, optimizer)
    total = 60
    train(reference, optimizer, range(total))
    model, runner = resume_in_pieces(plan, Net, initial, (17, 40, total), train, tmp_path)
    for (name, expected), actual in zip(reference.state_dict().items(), model.state_dict().values(), strict=True):
        assert torch.equal(expected, actual), name
    assert runner.step_index == total


def test_refusal_changes_nothing() -> None:
    model = torch.nn.Sequential(torch.nn.Linear(4, 4))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    optimizer = torch.optim.SGD(model.parameters(), lr=0.3)
    with pytest.raises(RuntimeRefusal, match=r"recipe.yaml:28:13: 're:features.\*.weight' matches no parameter"):
        attach(compiled(), model, optimizer)
    assert not optimizer._optimizer_step_pre_hooks and not optimizer._optimizer_step_post_hooks
    optimizer.step()
    assert optimizer.param_groups[0]["lr"] == 0.3
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_missing_param_group_is_refused() -> None:
    text = "modifiers:\n  - !SetLearningRateModifier\n    learning_rate: 0.5\n    param_groups: [2]\n    start_epoch: 0.0\n"
    plan = recipekit.compile_recipe(text, 2)
    model = torch.nn.Linear(2, 2)
    with pytest.raises(RuntimeRefusal, match="param group 2 does not exist"):
        attach(plan, model, torch.optim.SGD(model.parameters(), lr=0.1))


def test_invalid_plan_files_are_refused(tmp_path: Path) -> None:
    bad = tmp_path / "plan.json"
    bad.write_text(compiled().to_json().replace('"version": 1', '"version": 7'))
    model = Net()
    with pytest.raises(PlanError, match="version 7"):
        attach(bad, model, torch.optim.SGD(model.parameters(), lr=0.1))


def test_runner_state_from_another_plan_is_refused() -> None:
    model = Net()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    state = attach(compiled(spe=3), model, optimizer).state_dict()
    net = Net()
    other = attach(compiled(spe=4), net, torch.optim.SGD(net.parameters(), lr=0.1))
    with pytest.raises(RuntimeRefusal, match="different plan"):
        other.load_state_dict(state)


def test_ddp_style_module_prefix_is_handled() -> None:
    wrapper = torch.nn.Module()
    wrapper.module = Net()
    optimizer = torch.optim.SGD(wrapper.parameters(), lr=0.1)
    runner = attach(compiled(spe=1), wrapper, optimizer)
    assert runner._selected["s0"] == ["module.features.0.weight", "module.features.2.weight"]


def test_trainable_params_are_restored_on_detach() -> None:
    text = "modifiers:\n  - !TrainableParamsModifier\n    params: ['re:0.']\n    trainable: false\n    start_epoch: 0.0\n"
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 2))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    runner = attach(recipekit.compile_recipe(text, 2), model, optimizer)
    model(torch.ones(1, 2)).sum().backward()
    optimizer.step()
    assert not model[0].weight.requires_grad and model[0].weight.grad is None and model[1].weight.requires_grad
    runner.detach()
    assert model[0].weight.requires_grad


@pytest.mark.parametrize(("mask_type", "zeros"), [("'2:4'", 32), ("block4", 32), ("[2, 4]", 32), ("[1, 4]", 32)])
def test_structured_masks(mask_type: str, zeros: int) -> None:
    text = (
        "modifiers:\n  - !GMPruningModifier\n    params: [0.weight]\n    init_sparsity: 0.5\n    final_sparsity: 0.5\n"
        f"    start_epoch: 0.0\n    end_epoch: 1.0\n    update_frequency: 1.0\n    mask_type: {mask_type}\n"
    )
    model = torch.nn.Sequential(torch.nn.Linear(8, 8))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    attach(recipekit.compile_recipe(text, 2), model, optimizer)
    for _ in range(3):
        model(torch.randn(2, 8)).sum().backward()
        optimizer.step()
    weight = model[0].weight.detach()
    assert int((weight == 0).sum()) == zeros
    if mask_type == "'2:4'":
        assert (weight.reshape(8, 2, 4) != 0).sum(dim=-1).eq(2).all()
    if mask_type == "block4":
        groups = (weight.reshape(8, 2, 4) == 0).all(dim=-1) | (weight.reshape(8, 2, 4) != 0).all(dim=-1)
        assert groups.all()


def test_runtime_imports_only_the_plan_and_torch() -> None:
    heavy = "('ruamel', 'lark', 'click', 'jsonschema', 'recipekit.compiler', 'recipekit.lint.linter')"
    code = f"import sys, recipekit.runtime\nprint(sorted(m for m in {heavy} if m in sys.modules))"
    result = subprocess.run([sys.executable, "-W", "error", "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_train_tiny_example_runs(tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    plan.write_text(recipekit.compile_recipe(EXAMPLE, 8).to_json())
    result = subprocess.run(
        [sys.executable, "-W", "error", str(ROOT / "examples" / "train_tiny.py"), str(plan)], capture_output=True, text=True, check=True
    )
    assert result.stdout.splitlines()[-2:] == ["features.0.weight: 0.850 sparse", "features.2.weight: 0.850 sparse"]


def test_steps_a_grad_scaler_skips_still_advance_the_schedule() -> None:
    """Decision: the schedule follows iterations, as SparseML's step wrapper did (docs/runtime.md)."""
    plan = compiled(spe=2, num_epochs=10, lr_milestones=[2, 4])
    torch.manual_seed(0)
    model = Net()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    scaler = torch.amp.GradScaler("cpu")
    runner = attach(plan, model, optimizer, scaler=scaler)
    lrs, skipped = [], {3, 7}
    for step in range(12):
        x = torch.randn(4, 3, 8, 8, generator=torch.Generator().manual_seed(step))
        optimizer.zero_grad()
        loss = model(x).pow(2).mean() * (float("inf") if step in skipped else 1.0)
        before = {k: v.clone() for k, v in model.state_dict().items()}
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        lrs.append(optimizer.param_groups[0]["lr"])
        assert runner.step_index == step + 1
        if step in skipped:
            assert all(torch.equal(before[k], v) for k, v in model.state_dict().items()), step
    # Milestones at epochs 2 and 4 with 2 steps per epoch: the skipped steps 3 and 7 count.
    assert lrs == pytest.approx([0.05] * 4 + [0.005] * 4 + [0.0005] * 4, rel=1e-12)
    runner.detach()
    assert "step" not in vars(scaler)


def test_step_skipped_advances_a_custom_loop() -> None:
    plan = compiled(spe=1)
    model = Net()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    runner = attach(plan, model, optimizer)
    runner.step_skipped()
    runner.step_skipped()
    assert runner.step_index == 2 and runner.epoch == 2.0


class _UnknownSGD(torch.optim.SGD):
    """An optimizer the runtime does not know: it re-applies the masks after every step."""


class _UnknownAdamW(torch.optim.AdamW):
    pass


@pytest.mark.parametrize(("known", "unknown"), [(torch.optim.SGD, _UnknownSGD), (torch.optim.AdamW, _UnknownAdamW)])
def test_skipping_the_post_step_pass_for_held_masks_changes_no_bit(known: Any, unknown: Any) -> None:
    plan = compiled(spe=2, num_epochs=20, lr_milestones=[8, 12])
    results = []
    for optimizer_class in (known, unknown):
        torch.manual_seed(0)
        model = Net()
        optimizer = optimizer_class(model.parameters(), lr=0.01, weight_decay=1e-4)
        runner = attach(plan, model, optimizer)
        assert bool(runner._held_by_state) == (optimizer_class is known)
        for step in range(plan.total_steps):
            train(model, optimizer, range(step, step + 1))
            for name, mask in runner.masks().items():
                assert not dict(model.named_parameters())[name][~mask].any(), (step, name)  # pruned stay exactly zero
        results.append(model.state_dict())
    for name, weight in results[0].items():
        assert torch.equal(weight, results[1][name]), name
