"""The compiler: plan contents, SparseML's crash cases refused at the recipe position,
determinism, the plan contract, and the compile/expand/show commands."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from jsonschema import Draft202012Validator

import recipekit
from recipekit import cli
from recipekit.compiler import compile_source
from recipekit.plan.check import OP_FIELDS
from recipekit.plan.model import PlanError, plan_from_json
from recipekit.plan.simulate import expand, state_at
from recipekit.source import source_from_text
from tests.helpers import CORPUS

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "recipe.yaml"
PLAN_SCHEMA = json.loads((ROOT / "recipekit" / "schema" / "plan.schema.json").read_text())


def assert_valid_plan(plan: Any) -> None:
    errors = [e.message for e in Draft202012Validator(PLAN_SCHEMA).iter_errors(json.loads(plan.to_json()))]
    assert errors == []


def compile_text(text: str, spe: float = 4) -> tuple[Any, list[tuple[int, int, str]]]:
    """Compile recipe text; the texts below start with a newline, so line 1 is empty."""
    source, _ = source_from_text(text, "r.yaml", markdown=False)
    assert source is not None
    plan, diagnostics = compile_source(source, spe)
    if plan is not None:
        assert_valid_plan(plan)
    return plan, [(d.location.line, d.location.column, d.code) for d in diagnostics]


GM = """
modifiers:
  - !EpochRangeModifier
    start_epoch: 0.0
    end_epoch: 4.0
  - !GMPruningModifier
    params: [a.weight]
    init_sparsity: 0.05
    final_sparsity: 0.8
    start_epoch: 1.0
    end_epoch: 3.0
    update_frequency: 0.5
    inter_func: {inter}
    mask_type: {mask}
"""


def test_update_steps_follow_sparseml_drift() -> None:
    plan, found = compile_text(GM.format(inter="cubic", mask="unstructured"), spe=3)
    assert found == []
    prune = next(i for i in plan.instructions if i["op"] == "prune")
    # 0.5 epochs is 1.5 steps at 3 steps per epoch: each update waits for the first step
    # at least 0.5 epochs after the *previous update*, so the grid drifts (1.0, 1.67, 2.33, 3.0).
    assert prune["updates"] == {"steps": [3, 5, 7, 9]}
    assert prune["step"] == 3 and prune["end_step"] == 9


def test_documented_schedule_values() -> None:
    """sparseml-semantics.md §3.3: start 1, end 3, freq 0.5, cubic 0.05 -> 0.8 at 4 steps per epoch.

    Exact values: 0.05 + (1 - (1 - x)**3) * 0.75 (the reference rounds them loosely).
    """
    plan, _ = compile_text(GM.format(inter="cubic", mask="unstructured"), spe=4)
    events = expand(plan, [{"name": "a.weight", "shape": [8, 8], "module_type": "Linear"}])
    targets = [(e["step"], e["target_sparsity"]["a.weight"]) for e in events[1:] if e.get("target_sparsity")]
    assert targets == [(4, 0.05), (6, 0.48359375), (8, 0.70625), (10, 0.78828125), (12, 0.8)]


@pytest.mark.parametrize(
    ("recipe", "expected"),
    [
        (GM.format(inter="inverse_cubic", mask="unstructured").replace("end_epoch: 3.0", "end_epoch: 2.9"), [(11, 16, "C408")]),
        (GM.format(inter="cubic", mask="'2:4'"), [(8, 20, "L314")]),
        (GM.format(inter="cubic", mask="channel"), [(14, 16, "L313")]),
        (GM.format(inter="cubic", mask="unstructured").replace("end_epoch: 3.0", "end_epoch: 1.0"), [(11, 16, "L302")]),
    ],
)
def test_sparseml_crashes_are_refused_at_the_recipe_position(recipe: str, expected: list[tuple[int, int, str]]) -> None:
    plan, found = compile_text(recipe)
    assert plan is None
    assert found == expected


LR = """
modifiers:
  - !EpochRangeModifier
    start_epoch: 0.0
    end_epoch: 6.0
  - !LearningRateModifier
    start_epoch: {start}
    end_epoch: 5.0
    lr_class: MultiStepLR
    lr_kwargs: {{milestones: {milestones}, gamma: 0.1}}
    init_lr: 0.1
"""


def test_milestones_outside_the_range_are_refused() -> None:
    assert compile_text(LR.format(start="2.0", milestones="[1, 3]"))[1] == [(10, 16, "L341")]
    assert compile_text(LR.format(start="2.0", milestones="[3, 5]"))[1] == [(10, 16, "L341")]


def test_multistep_with_start_minus_one_fires_one_epoch_late_like_sparseml() -> None:
    plan, found = compile_text(LR.format(start="-1", milestones="[2, 3]"), spe=4)
    assert found == []
    events = expand(plan, [], optimizer_lr=0.1)
    decays = [(e["epoch"], round(e["lr"][0], 6)) for e in events if "lr" in e][1:]
    assert decays == [(3.0, 0.01), (4.0, 0.001)]


def test_lr_function_needs_a_range() -> None:
    recipe = (
        "modifiers:\n  - !LearningRateFunctionModifier\n    lr_func: linear\n    init_lr: 0.1\n    final_lr: 0.01\n"
        "    start_epoch: 2.0\n    end_epoch: 2.0\n"
    )
    assert compile_text(recipe)[1] == [(7, 16, "L302")]


def test_missing_lr_kwargs() -> None:
    recipe = (
        "modifiers:\n  - !LearningRateModifier\n    lr_class: StepLR\n    lr_kwargs: {step: 1, gamma: 0.9}\n    init_lr: 0.1\n"
        "    start_epoch: 0.0\n    end_epoch: 2.0\n"
    )
    assert compile_text(recipe)[1] == [(4, 16, "L340"), (4, 16, "L340")]


def test_unexecuted_modifiers_are_warned_not_refused() -> None:
    plan, found = compile_text("modifiers:\n  - !PerLayerDistillationModifier\n    start_epoch: 0.0\n    end_epoch: 2.0\n")
    assert plan is not None and found == [(2, 5, "C410")]


def test_distillation_compiles_to_a_window_that_includes_the_end_step() -> None:
    recipe = "modifiers:\n  - !DistillationModifier\n    start_epoch: 1.0\n    end_epoch: 2.0\n    hardness: 1.0\n"
    plan, found = compile_text(recipe, spe=2)
    assert found == []
    (distill,) = [i for i in plan.instructions if i["op"] == "distill"]
    assert (distill["step"], distill["last_step"], distill["hardness"], distill["temperature"]) == (2, 4, 1.0, 2.0)


def test_fractional_steps_per_epoch() -> None:
    plan, found = compile_text(GM.format(inter="linear", mask="unstructured"), spe=2.5)
    assert found == [] and plan.total_steps == 10  # round(4 epochs x 2.5)
    prune = next(i for i in plan.instructions if i["op"] == "prune")
    # Steps 3..8 see epochs 1.2, 1.6, 2.0, 2.4, 2.8, 3.2: start at 1.2, then the first step at
    # least 0.5 epochs after the previous update (2.0, then 2.8), then the end at the first >= 3.0.
    assert prune["updates"] == {"steps": [3, 5, 7, 8]}


def test_trainable_params_and_param_groups() -> None:
    recipe = """
modifiers:
  - !EpochRangeModifier
    start_epoch: 0.0
    end_epoch: 3.0
  - !TrainableParamsModifier
    params: ['re:embed']
    trainable: false
    start_epoch: 1.0
    end_epoch: 2.0
  - !SetLearningRateModifier
    learning_rate: 0.5
    param_groups: [1]
    start_epoch: 1.0
"""
    plan, found = compile_text(recipe, spe=2)
    assert found == []
    params = [{"name": n, "shape": [4], "module_type": "Embedding"} for n in ("embed.weight", "head.weight")]
    events = expand(plan, params, param_groups=2, optimizer_lr=0.1)
    assert [(e["step"], e.get("frozen"), e.get("lr")) for e in events] == [
        (0, [], [0.1, 0.1]),
        (2, ["embed.weight"], [0.1, 0.5]),
        (4, [], None),
    ]


def test_tiny_update_frequency_is_a_range_not_a_list() -> None:
    text = GM.format(inter="cubic", mask="unstructured").replace("update_frequency: 0.5", "update_frequency: 0.0000001")
    plan, found = compile_text(text, spe=1_000_000)
    assert found == []
    prune = next(i for i in plan.instructions if i["op"] == "prune")
    assert prune["updates"] == {"every_step": [1_000_000, 3_000_000]}
    plan, found = compile_text(text.replace("0.0000001", "0.000001"), spe=1_000_000)
    assert found == [(12, 23, "C413")]


def test_bad_steps_per_epoch() -> None:
    assert compile_text(GM.format(inter="cubic", mask="unstructured"), spe=0)[1] == [(1, 1, "C411")]


def test_size_and_work_do_not_grow_with_steps_per_epoch() -> None:
    small = recipekit.compile_recipe(EXAMPLE, 10)
    large = recipekit.compile_recipe(EXAMPLE, 1_000_000)
    assert_valid_plan(small)
    assert_valid_plan(large)
    assert large.total_steps == 70_000_000
    assert len(large.instructions) == len(small.instructions)
    assert len(large.to_json()) < 1.2 * len(small.to_json())


def test_compilation_is_deterministic(tmp_path: Path) -> None:
    first = recipekit.compile_recipe(EXAMPLE, 7).to_json()
    assert recipekit.compile_recipe(EXAMPLE, 7).to_json() == first
    path = tmp_path / "plan.json"
    assert CliRunner().invoke(cli.main, ["compile", str(EXAMPLE), "--steps-per-epoch", "7", "-o", str(path)]).exit_code == 0
    assert CliRunner().invoke(cli.main, ["compile", str(EXAMPLE), "--steps-per-epoch", "7"]).output == path.read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["plan.json"]  # no temporary file left behind


def test_plan_round_trips_and_records_its_recipe() -> None:
    plan = recipekit.compile_recipe(EXAMPLE, 3, variables={"num_epochs": 80})
    again = plan_from_json(plan.to_json())
    assert again.to_json() == plan.to_json()
    assert plan.recipe_sha256 == __import__("hashlib").sha256(EXAMPLE.read_bytes()).hexdigest()
    assert plan.variables["num_epochs"] == 80 and plan.total_steps == 240
    for instruction in plan.instructions:
        assert {"modifier", "index", "order", "path", "line", "column"} <= instruction["origin"].keys()


def test_compile_recipe_raises_recipe_error() -> None:
    with pytest.raises(recipekit.RecipeError) as raised:
        recipekit.compile_recipe(GM.format(inter="cubic", mask="channel"), 4)
    assert [d.code for d in raised.value.diagnostics] == ["L313"]


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        (lambda text: text[: len(text) // 2], "invalid JSON"),
        (lambda text: text.replace('"version": 1', '"version": 2'), "version 2"),
        (lambda text: text.replace('"format": "recipekit-plan"', '"format": "other"'), "not a recipekit plan"),
        (lambda text: text.replace('"op": "prune"', '"op": "explode"'), "unknown op"),
        (lambda text: text.replace('"inter_func": "cubic"', '"inter_func": 3'), "inter_func"),
    ],
)
def test_tampered_plans_are_refused(edit: Any, reason: str) -> None:
    """Both the loader and the published JSON Schema refuse each of these."""
    text = recipekit.compile_recipe(EXAMPLE, 3).to_json()
    with pytest.raises(PlanError, match=reason):
        plan_from_json(edit(text))
    document = None
    try:
        document = json.loads(edit(text))
    except ValueError:
        return
    assert not Draft202012Validator(PLAN_SCHEMA).is_valid(document)


def test_a_selector_that_does_not_exist_is_refused_on_load() -> None:
    # A cross-reference JSON Schema cannot express; the loader checks it.
    text = recipekit.compile_recipe(EXAMPLE, 3).to_json().replace('"selector": "s0"', '"selector": "s9"')
    with pytest.raises(PlanError, match="unknown selector"):
        plan_from_json(text)


def test_plan_schema_matches_the_runtime_check() -> None:
    Draft202012Validator.check_schema(PLAN_SCHEMA)
    ops = {item["properties"]["op"]["const"]: item for item in PLAN_SCHEMA["properties"]["instructions"]["items"]["oneOf"]}
    assert ops.keys() == OP_FIELDS.keys()
    for op, fields in OP_FIELDS.items():
        assert set(ops[op]["required"]) == {"op", "step", "origin", *fields}


@pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus is not available")
def test_every_corpus_plan_validates_against_the_plan_schema() -> None:
    validator = Draft202012Validator(PLAN_SCHEMA)
    compiled = 0
    for path in sorted((CORPUS / "sparseml").iterdir()):
        try:
            plan = recipekit.compile_recipe(path, 7)
        except recipekit.RecipeError:
            continue
        errors = [e.message for e in validator.iter_errors(json.loads(plan.to_json()))]
        assert errors == [], (path.name, errors[:3])
        compiled += 1
    assert compiled >= 60


def test_state_at_equals_expand() -> None:
    plan = recipekit.compile_recipe(EXAMPLE, 2)
    params = [{"name": "features.0.weight", "shape": [8, 8, 3, 3], "module_type": "Conv2d"}]
    state = state_at(plan, 60, params)
    assert state["lr"] == [0.005000000000000001] and state["epoch"] == 30.0
    assert 0.8 < state["target_sparsity"]["features.0.weight"] < 0.85


def test_expand_command_prints_change_points(tmp_path: Path) -> None:
    plan_path = tmp_path / "plan.json"
    plan_path.write_text(recipekit.compile_recipe(EXAMPLE, 2).to_json())
    manifest = tmp_path / "params.txt"
    manifest.write_text("features.0.weight\nclassifier.weight\n")
    result = CliRunner().invoke(cli.main, ["expand", str(plan_path), "--params", str(manifest), "--optimizer-lr", "0.3"])
    assert result.exit_code == 0
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert set(lines[0]) == {"step", "epoch", "lr", "weight_decay", "target_sparsity", "qat", "qat_observers", "bn_frozen", "frozen"}
    assert lines[0]["lr"] == [0.05] and lines[0]["target_sparsity"] == {"features.0.weight": None}
    assert all(set(line) - {"step", "epoch"} for line in lines[1:])  # later lines carry only changes
    assert next(line for line in lines if "lr" in line and line["step"] > 0)["step"] == 60


def test_expand_refuses_a_tampered_plan(tmp_path: Path) -> None:
    plan_path = tmp_path / "plan.json"
    plan_path.write_text('{"format": "recipekit-plan", "version": 1}')
    manifest = tmp_path / "params.txt"
    manifest.write_text("a\n")
    result = CliRunner().invoke(cli.main, ["expand", str(plan_path), "--params", str(manifest)])
    assert result.exit_code == 1 and "invalid plan" in result.output


def test_compile_command_errors_and_usage(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(GM.format(inter="cubic", mask="channel"))
    result = CliRunner().invoke(cli.main, ["compile", str(bad), "--steps-per-epoch", "3"])
    assert result.exit_code == 1 and "L313" in result.output
    assert CliRunner().invoke(cli.main, ["compile", str(EXAMPLE), "--steps-per-epoch", "-1"]).exit_code == 2
    assert CliRunner().invoke(cli.main, ["compile", str(EXAMPLE)]).exit_code == 2


def test_show_timeline_and_plot(tmp_path: Path) -> None:
    png = tmp_path / "schedule.png"
    result = CliRunner().invoke(cli.main, ["show", str(EXAMPLE), "--steps-per-epoch", "5", "--plot", str(png)])
    assert result.exit_code == 0, result.output
    assert "prune re:features.*.weight: 0.05 -> 0.85" in result.output
    assert result.output.splitlines()[-1].strip() == "epoch 70 (step 350)  training ends"
    import matplotlib.image

    pixels = matplotlib.image.imread(png)
    assert pixels.shape[:2] == (600, 900)
    assert float(pixels[..., :3].std()) > 0.05  # not blank


def test_invalid_regex_is_refused_at_the_item() -> None:
    text = GM.format(inter="cubic", mask="unstructured").replace("params: [a.weight]", "params: [a.weight, 're:b(']")
    plan, found = compile_text(text)
    assert plan is None and found == [(7, 24, "L321")]
    block = text.replace("params: [a.weight, 're:b(']", "params:\n      - a.weight\n      - re:c[")
    assert compile_text(block)[1] == [(9, 9, "L321")]


def test_expand_folds_conv_bn_only_for_siblings_as_sparseml_and_the_runtime_do() -> None:
    text = "\nmodifiers:\n  - !QuantizationModifier\n    start_epoch: 0.0\n"
    text += "  - !EpochRangeModifier\n    start_epoch: 0.0\n    end_epoch: 1.0\n"
    plan, found = compile_text(text)
    assert found == []

    def bn_frozen(conv: str, bn: str) -> Any:
        params = [
            {"name": f"{conv}.weight", "shape": [4, 3, 3, 3], "module_type": "Conv2d"},
            {"name": f"{bn}.weight", "shape": [4], "module_type": "BatchNorm2d"},
            {"name": f"{bn}.bias", "shape": [4], "module_type": "BatchNorm2d"},
        ]
        return expand(plan, params)[0]["bn_frozen"]

    assert bn_frozen("block.conv", "block.bn") is False
    assert bn_frozen("stem.conv", "head.bn") is None  # consecutive, but not in the same parent: never fused


def test_a_hand_edited_plan_is_refused_naming_the_field(tmp_path: Path) -> None:
    # Issue 21, item 11: final_sparsity 0.8 → 0.9 in the plan file loaded and ran.
    recipe = GM.format(inter="cubic", mask="unstructured")
    text = recipekit.compile_recipe(recipe, 4).to_json()
    assert '"final_sparsity": 0.8,' in text
    plan_path = tmp_path / "plan.json"
    plan_path.write_text(text.replace('"final_sparsity": 0.8,', '"final_sparsity": 0.9,'))
    with pytest.raises(PlanError) as raised:
        recipekit.load_plan(plan_path)
    expected = "not what compile wrote: final_sparsity of instruction 1 (prune, GMPruningModifier at line 6 of the recipe)."
    assert expected in str(raised.value)
    result = CliRunner().invoke(cli.main, ["show", str(plan_path)])
    assert result.exit_code == 1 and "the plan was edited after compile" in result.output
    for edit in (
        lambda t: re.sub(r'"total_steps": (\d+)', r'"total_steps": 1\1', t),
        lambda t: t.replace('"max_epochs": 4,', '"max_epochs": 5,'),
    ):
        with pytest.raises(PlanError, match="edited after compile"):
            plan_from_json(edit(text))
    assert plan_from_json(text).to_json() == text


def test_a_plan_without_a_digest_loads_with_a_warning(tmp_path: Path) -> None:
    from recipekit.plan.model import PlanWarning

    document = json.loads(recipekit.compile_recipe(EXAMPLE, 3).to_json())
    del document["digest"]  # as an older recipekit wrote it
    plan_path = tmp_path / "plan.json"
    plan_path.write_text(json.dumps(document))
    with pytest.warns(PlanWarning, match="no digest"):
        plan = recipekit.load_plan(plan_path)
    assert plan.total_steps == document["total_steps"]
    result = CliRunner().invoke(cli.main, ["show", str(plan_path)])
    assert result.exit_code == 0 and f"{plan_path}: warning: this plan has no digest" in result.output


def test_plan_text_given_to_load_plan_says_so() -> None:
    with pytest.raises(PlanError, match="this is plan JSON text: use plan_from_json"):
        recipekit.load_plan(recipekit.compile_recipe(EXAMPLE, 3).to_json())
