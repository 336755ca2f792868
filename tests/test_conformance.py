"""Issue 16's conformance items against SparseML 1.8.0's own results.

The fixtures under tests/fixtures/sparseml/conformance/ were written by SparseML itself
(scripts/make_sparseml_fixtures.py conformance, run by hand in a SparseML venv). Masks,
identifiers and orders are compared exactly; weights, momentum and QAT outputs bit for bit
where this machine computes floats as the fixture's did (tests/fixture_compare.py, within its
tolerance elsewhere).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pytest

import recipekit
from recipekit.compiler import load_file, load_text
from recipekit.compiler.identifier import identifier
from recipekit.compiler.lower import manager_order
from tests.helpers import SHARED

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from recipekit.runtime import RuntimeRefusal, attach  # noqa: E402
from recipekit.runtime import masks as runtime_masks  # noqa: E402
from tests import fixture_compare  # noqa: E402
from tests.sparseml_steps import replay_recorded_gradients  # noqa: E402

FIX = fixture_compare.topic("conformance")


def _fixture(name: str) -> Any:
    return FIX.load(name)


# -- item 4: mask creators and tie rules ---------------------------------------------------------
MASK_CASES = _fixture("mask_creators.pt")


@pytest.mark.parametrize("case", MASK_CASES, ids=[c["name"] for c in MASK_CASES])
def test_masks_equal_sparsemls_mask_creators(case: dict[str, Any]) -> None:
    shapes = [list(t.shape) for t in case["tensors"]]
    problem = runtime_masks.problem(shapes, case["mask_type"])
    if "error" in case or problem is not None:
        # SparseML raised (numel not a multiple of M) or made a mask shaped unlike the tensor (N:M on a conv).
        assert problem is not None
        assert "error" in case or any(m.shape != t.shape for m, t in zip(case["masks"], case["tensors"], strict=True))
        return
    created = runtime_masks.create(case["tensors"], case["target"], case["mask_type"], case["global_sparsity"])
    for k, (ours, theirs) in enumerate(zip(created, case["masks"], strict=True)):
        FIX.exact(ours, theirs.bool(), (case["name"], k))


# -- item 4: training runs (ties, momentum at mask updates, sparsity going down, release, [2, 2]) ---
TRAINING = _fixture("training.pt")


def _train(run: dict[str, Any], exact_optimizer_state: bool) -> tuple[nn.Module, torch.optim.Optimizer, Any, list[Any]]:
    return replay_recorded_gradients(TRAINING, run, exact_optimizer_state)


@pytest.mark.parametrize("name", list(TRAINING["runs"]))
def test_training_equals_sparseml_weights_masks_and_momentum(name: str) -> None:
    run = TRAINING["runs"][name]
    model, _, _, history = _train(run, exact_optimizer_state=True)
    for k, (masks, weights, momentum) in enumerate(history):
        for param, mask in masks.items():
            FIX.exact(mask, run["steps"]["masks"][param][k], (k, "mask", param))
        for param in weights:
            FIX.floats(weights[param], run["steps"]["weights"][param][k], (k, param))
            FIX.floats(momentum[param], run["steps"]["momentum"][param][k], (k, "momentum", param))
    for param, value in model.named_parameters():
        FIX.floats(value.detach(), run["final"][param], ("final", param))


@pytest.mark.parametrize("name", list(TRAINING["runs"]))
def test_fast_path_weights_equal_sparseml(name: str) -> None:
    """Plain SGD: held masks skip the post-step pass; weights, masks and the momentum of kept weights stay exact."""
    run = TRAINING["runs"][name]
    model, _, runner, history = _train(run, exact_optimizer_state=False)
    loosens = name in ("sparsity goes down", "leave_enabled false")
    assert bool(runner._held_by_state) is not loosens  # masks that give weights back keep SparseML's state
    for k, (masks, weights, momentum) in enumerate(history):
        for param in weights:
            FIX.floats(weights[param], run["steps"]["weights"][param][k], (k, param))
            kept = masks.get(param, torch.ones_like(momentum[param], dtype=torch.bool))
            FIX.floats(momentum[param][kept], run["steps"]["momentum"][param][k][kept], (k, "momentum", param))
    for param, value in model.named_parameters():
        FIX.floats(value.detach(), run["final"][param], ("final", param))


def test_attach_refuses_a_mask_sparseml_could_not_make() -> None:
    recipe = """
modifiers:
  - !GMPruningModifier
    params: ["0.weight"]
    init_sparsity: 0.5
    final_sparsity: 0.5
    start_epoch: 0.0
    end_epoch: 2.0
    update_frequency: 1.0
    mask_type: "2:4"
"""
    model = nn.Sequential(nn.Conv2d(8, 4, 3))
    before = model.state_dict()["0.weight"].clone()
    with pytest.raises(RuntimeRefusal, match=r"<recipe>:3:5 .*N:M mask on a convolution"):
        attach(recipekit.compile_recipe(recipe, 2), model, torch.optim.SGD(model.parameters(), lr=0.1))
    assert torch.equal(model.state_dict()["0.weight"], before)


# -- item 2: tied modifiers run in SparseML's identifier order ---------------------------------------
def test_identifier_equals_sparsemls_and_orders_tied_modifiers() -> None:
    fixture = FIX.json("identifiers.json")
    recipe, _ = load_text(fixture["recipe"])
    assert recipe is not None
    pruners = [m for m in recipe.modifiers if m.type == "GMPruningModifier"]
    for modifier in pruners:
        assert identifier(modifier) == fixture["identifiers"][str(modifier.value("final_sparsity"))]
    file_order = [m.value("final_sparsity") for m in pruners]
    ordered = [m.value("final_sparsity") for m in manager_order(recipe.modifiers) if m.type == "GMPruningModifier"]
    assert ordered == fixture["manager_order_final_sparsity"] != file_order
    # The plan's prune instructions follow it too: SparseML's last one to update wins.
    plan = recipekit.compile_recipe(fixture["recipe"], 2)
    prunes = [i for i in plan.instructions if i["op"] == "prune"]
    assert [i["final_sparsity"] for i in sorted(prunes, key=lambda i: i["origin"]["order"])] == ordered


@pytest.mark.skipif(not (SHARED / "golden" / "props").is_dir(), reason="../shared/golden/props is not available")
def test_manager_order_equals_sparsemls_on_the_corpus() -> None:
    """Every v1 corpus recipe: our manager order is the order SparseML loaded its modifiers in."""
    checked = 0
    for path in sorted((SHARED / "golden" / "props" / "sparseml").glob("*.props.json")):
        golden = json.loads(path.read_text())
        recipe, _ = load_file(SHARED / "corpus" / golden["recipe"])
        if recipe is None:
            continue

        def signature(kind: str, params: dict[str, Any]) -> tuple[Any, ...]:
            final = params.get("final_sparsity")
            return kind, json.dumps(params.get("params"), sort_keys=True), None if isinstance(final, dict) else final, params.get("init_lr")

        expected = [signature(m["type"], m) for m in golden["modifiers"]]
        ours = [signature(m.type, {k: p.value for k, p in m.params.items()}) for m in manager_order(recipe.modifiers)]
        assert ours == expected, golden["recipe"]
        checked += 1
    assert checked > 80


# -- item 1: duplicate keys keep the last value, as PyYAML did ----------------------------------------
DUPLICATE = """modifiers:
  - !GMPruningModifier
    params: ["re:.*weight"]
    init_sparsity: 0.05
    final_sparsity: 0.8
    start_epoch: 0.0
    end_epoch: 3.0
    update_frequency: 1.0
    mask_type: unstructured
    mask_type: block4
"""


def test_duplicate_keys_compile_to_the_last_value() -> None:
    plan, diagnostics = recipekit.compile_with_diagnostics(DUPLICATE, 2)
    assert plan is not None
    assert [i["mask_type"] for i in plan.instructions if i["op"] == "prune"] == ["block4"]
    assert [(d.code, d.severity.value, d.location.line, d.location.column, d.notes[0].location.line) for d in diagnostics] == [
        ("P111", "warning", 10, 5, 9)
    ]
    recipe, _ = load_text(DUPLICATE)
    assert recipe is not None and recipe.modifiers[0].value("mask_type") == "block4"


def test_duplicate_keys_stay_a_lint_error(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from recipekit.cli import lint_command, main

    path = tmp_path / "dup.yaml"
    path.write_text(DUPLICATE)
    linted = CliRunner().invoke(lint_command, [str(path)])
    assert linted.exit_code == 1
    assert f"{path}:10:5: error: P111" in linted.output and f"{path}:9:5: first defined here" in linted.output
    for command in (["compile", str(path), "--steps-per-epoch", "2"], ["normalize", str(path)]):
        result = CliRunner().invoke(main, command)
        assert result.exit_code == 0, result.output
        assert '"block4"' in result.stdout


# -- item 3: refused at compile time, at the setting ---------------------------------------------------
@pytest.mark.parametrize(
    ("kind", "setting", "code", "column", "message"),
    [
        ("OBSPruningModifier", "mask_type: '2:4'", "L313", 16, "(SparseML raises ValueError at load)"),
        ("MFACPruningModifier", "damp: 1e-5", "S208", 11, "write 1.0e-5"),
    ],
)
def test_refused_at_compile_time(kind: str, setting: str, code: str, column: int, message: str) -> None:
    text = (
        f"modifiers:\n  - !{kind}\n    params: __ALL_PRUNABLE__\n    init_sparsity: 0.05\n    final_sparsity: 0.5\n"
        f"    start_epoch: 0.0\n    end_epoch: 3.0\n    update_frequency: 1.0\n    {setting}\n"
    )
    plan, diagnostics = recipekit.compile_with_diagnostics(text, 2)
    assert plan is None
    refused = [d for d in diagnostics if d.code == code]
    assert [(d.severity.value, d.location.line, d.location.column) for d in refused] == [("error", 9, column)]
    assert message in refused[0].message


# -- items 5 and 10: QAT ------------------------------------------------------------------------------
QAT = _fixture("qat.pt")


@pytest.mark.parametrize("name", list(QAT["runs"]))
def test_qat_equals_sparseml(name: str) -> None:
    run = QAT["runs"][name]
    model = nn.Sequential(nn.Linear(4, 8), nn.SiLU(), nn.Linear(8, 3))
    model.load_state_dict(QAT["initial"])
    optimizer = torch.optim.SGD(model.parameters(), lr=QAT["lr"], momentum=QAT["momentum"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        runner = attach(recipekit.compile_recipe(run["recipe"], QAT["steps_per_epoch"]), model, optimizer)
        for k, x in enumerate(QAT["inputs"]):
            optimizer.zero_grad(set_to_none=True)
            out = model(x)
            FIX.floats(out.detach(), run["outputs"][k], (k, "output"))
            out.square().mean().backward()
            optimizer.step()
        runner.finalize()
    for param, value in model.named_parameters():
        module, _, leaf = param.rpartition(".")
        FIX.floats(value.detach(), run["final"][f"{module}.module.{leaf}"], ("final", param))
    messages = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    if name == "observers off at the start":
        never = {
            key.replace(".module", "").replace(".weight_fake_quant", "/weight").replace(".quant", "/input") for key in run["quantizers"]
        }
        assert all(not q["observed"] for q in run["quantizers"].values())
        assert any("observers are disabled at the step QAT starts (2)" in m for m in messages)
        assert any("5 fake-quantizers never observed a batch" in m and "'0/weight'" in m for m in messages)
        assert {"0/input", "0/weight", "1/input", "2/input", "2/weight"} == never  # 1/input: SiLU's QuantWrapper
    else:
        assert run["quantizers"]["1.quant"]["observed"] and "1.module" not in run["quantizers"]  # SiLU: input fake-quant only
        assert messages == []


def test_lint_flags_qat_that_never_observes() -> None:
    from tests.test_rule_docs import lint

    text = "modifiers:\n  - !QuantizationModifier\n    start_epoch: 2.0\n    disable_quantization_observer_epoch: 2.0\n"
    assert (4, 42, "L337") in lint(text, "L337")
    assert not [f for f in lint(text.replace("observer_epoch: 2.0", "observer_epoch: 3.0"), "L337") if f[2] == "L337"]
