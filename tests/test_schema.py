"""Modifier schemas: valid JSON Schema, complete, and mapped to exact spans."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from recipekit import schema
from recipekit.compiler import load_file
from recipekit.compiler.normalize import normalize
from tests.helpers import CORPUS, found, load, ok

REGISTERED = {
    "EpochRangeModifier", "SetLearningRateModifier", "LearningRateFunctionModifier", "LearningRateModifier",
    "SetWeightDecayModifier", "TrainableParamsModifier", "SetParamModifier", "GradualParamModifier",
    "SparsificationLoggingModifier", "GMPruningModifier", "MagnitudePruningModifier",
    "GlobalMagnitudePruningModifier", "ConstantPruningModifier", "MovementPruningModifier",
    "StructuredPruningModifier", "OBSPruningModifier", "MFACPruningModifier", "RigLPruningModifier",
    "ACDCPruningModifier", "TopKASTPruningModifier", "LayerPruningModifier", "PowerpropagationModifier",
    "LayerThinningModifier", "QuantizationModifier", "DistillationModifier", "PerLayerDistillationModifier",
}  # fmt: skip


def test_all_26_registered_modifiers_have_a_schema() -> None:
    assert set(schema.modifier_types()) == REGISTERED
    assert set(schema.schema_names()) == REGISTERED | {"QuantizationModifier-legacy"}


@pytest.mark.parametrize("name", sorted(REGISTERED | {"QuantizationModifier-legacy"}))
def test_schema_is_valid_draft_2020_12_and_documents_every_field(name: str) -> None:
    document = schema.load_schema(name)
    Draft202012Validator.check_schema(document)
    assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert document["additionalProperties"] is False
    for field, spec in document["properties"].items():
        assert spec.get("description"), f"{name}.{field} has no description"
        assert field in document["required"] or "default" in spec, f"{name}.{field} has neither default nor required"


def test_bundle_is_valid() -> None:
    Draft202012Validator.check_schema(schema.bundle())


def _as_json_instance(modifier: dict[str, Any]) -> dict[str, Any]:
    instance = {k: v for k, v in modifier.items() if k not in ("type", "flavour", "span")}
    return instance


@pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus is not available")
def test_effective_values_of_the_corpus_validate_with_jsonschema() -> None:
    """Cross-check our validator against jsonschema on every real modifier we load."""
    checked = 0
    for path in sorted((CORPUS / "sparseml").iterdir()):
        recipe, _ = load_file(path)
        if recipe is None:
            continue
        for modifier in normalize(recipe)["modifiers"]:
            name = schema.LEGACY_QUANTIZATION if modifier.get("flavour") == "legacy" else modifier["type"]
            errors = list(Draft202012Validator(schema.load_schema(name)).iter_errors(_as_json_instance(modifier)))
            assert errors == [], (path.name, modifier["type"], [e.message for e in errors])
            checked += 1
    assert checked > 1000


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"start_epoch": 0.0, "end_epoch": 1.0, "bogus": 1}, False),
        ({"start_epoch": 0.0}, False),
        ({"start_epoch": -2.0, "end_epoch": 1.0}, False),
        ({"start_epoch": "x", "end_epoch": 1.0}, False),
        ({"start_epoch": 0.0, "end_epoch": 1.0}, True),
    ],
)
def test_our_verdict_agrees_with_jsonschema(params: dict[str, Any], expected: bool) -> None:
    theirs = Draft202012Validator(schema.load_schema("EpochRangeModifier")).is_valid(params)
    body = "\n".join(f"    {k}: {json.dumps(v)}" for k, v in params.items())
    recipe, _ = load(f"modifiers:\n  - !EpochRangeModifier\n{body}\n")
    assert theirs is expected
    assert (recipe is not None) is expected


GM = """
modifiers:
  - !GMPruningModifier
    params: ["re:.*weight"]
    init_sparsity: 0.05
    final_sparsity: 0.8
    start_epoch: 0.0
    end_epoch: 10.0
    update_frequency: 1.0
"""


def gm(line: str, value: str) -> list[tuple[int, int, str]]:
    lines = GM.strip("\n").splitlines()
    index = next(i for i, text in enumerate(lines) if text.strip().startswith(line + ":"))
    lines[index] = f"    {line}: {value}"
    return found("\n".join(lines) + "\n")


def test_defaults_are_filled_in() -> None:
    modifier = ok(GM).modifiers[0]
    assert modifier.value("inter_func") == "cubic"
    assert modifier.value("leave_enabled") is True
    assert modifier.value("mask_type") == "unstructured"
    assert not modifier.params["inter_func"].given


def test_unknown_key_points_at_the_key_with_a_suggestion() -> None:
    _, diagnostics = load(GM + "    leave_enable: true\n")
    assert [(d.location.line, d.location.column, d.code) for d in diagnostics] == [(9, 5, "S203")]
    assert "did you mean 'leave_enabled'?" in diagnostics[0].message


def test_missing_key_points_at_the_tag() -> None:
    assert found(GM.replace("    update_frequency: 1.0\n", "")) == [(2, 5, "S204")]


def test_bad_enum_value_points_at_the_value() -> None:
    _, diagnostics = load(GM + "    inter_func: cubc\n")
    assert [(d.location.line, d.location.column, d.code) for d in diagnostics] == [(9, 17, "S207")]
    assert "did you mean 'cubic'?" in diagnostics[0].message


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("final_sparsity", "1.0", "S206"),  # open interval
        ("final_sparsity", "0.0", "S206"),
        ("init_sparsity", "1.5", "S206"),
        ("init_sparsity", "0", "S205"),  # SparseML rejects the int 0
        ("init_sparsity", "1e-2", "S208"),  # YAML 1.1 string, not coerced here
        ("update_frequency", "-2", "S206"),
        ("start_epoch", "-3.0", "S206"),
        ("params", "conv1.weight", "S207"),  # a single name must be a list
        ("final_sparsity", "{1.5: [a]}", "S206"),
    ],
)
def test_value_errors_point_at_the_value(field: str, value: str, code: str) -> None:
    line = {"params": 3, "init_sparsity": 4, "final_sparsity": 5, "start_epoch": 6, "update_frequency": 8}[field]
    column = 5 + len(field) + 2
    result = gm(field, value)
    assert result[0][2] == code
    assert result[0][0] == line
    assert result[0][1] == column or (code == "S206" and value.startswith("{"))


def test_list_items_are_checked_one_by_one() -> None:
    assert gm("params", "[a, 2]") == [(3, 17, "S205")]


def test_single_name_hint() -> None:
    _, diagnostics = load(GM.replace('params: ["re:.*weight"]', "params: conv1.weight"))
    assert diagnostics[0].message.endswith("a single name must be written as a list: [conv1.weight]")


def test_numeric_strings_are_coerced_where_sparseml_coerces_them() -> None:
    recipe = ok("modifiers:\n  - !SetLearningRateModifier\n    learning_rate: 1e-3\n    start_epoch: '2'\n")
    params = recipe.modifiers[0].params
    assert params["learning_rate"].value == 0.001 and params["learning_rate"].coerced_from == "1e-3"
    assert params["start_epoch"].value == 2.0 and params["start_epoch"].coerced_from == "2"


def test_forced_values_record_what_was_ignored() -> None:
    recipe = ok("modifiers:\n  - !SetLearningRateModifier\n    learning_rate: 0.1\n    end_epoch: 5.0\n")
    end = recipe.modifiers[0].params["end_epoch"]
    assert end.value == -1.0 and end.ignored and end.ignored_value == 5.0


def test_log_types_is_stripped_as_in_sparseml() -> None:
    recipe = ok(GM + "    log_types: __ALL__\n")
    assert recipe.modifiers[0].stripped == ("log_types",)
    assert "log_types" not in recipe.modifiers[0].params


def test_sparsity_dict() -> None:
    recipe = ok(GM.replace("final_sparsity: 0.8", "final_sparsity: {0.8: [a.weight], 0.9: ['re:b.*']}"))
    assert recipe.modifiers[0].value("final_sparsity") == {0.8: ["a.weight"], 0.9: ["re:b.*"]}


def test_renamed_legacy_modifiers() -> None:
    _, diagnostics = load("modifiers:\n  - !GradualKSModifier\n    params: [a]\n")
    assert [(d.location.line, d.location.column, d.code) for d in diagnostics] == [(2, 5, "S202")]
    assert "!GMPruningModifier" in diagnostics[0].message
    assert found("modifiers:\n  - !pytorch.ConstantKSModifier\n    params: __ALL__\n") == [(2, 5, "S202")]


def test_unknown_modifier_suggests() -> None:
    _, diagnostics = load("modifiers:\n  - !SetLearningRate\n    learning_rate: 0.1\n")
    assert [d.code for d in diagnostics] == ["S201"]
    assert "SetLearningRateModifier" in diagnostics[0].message


QUANT = "modifiers:\n  - !QuantizationModifier\n    start_epoch: 0.0\n"


def test_quantization_flavours() -> None:
    new = ok(QUANT + "    ignore: [classifier]\n").modifiers[0]
    assert new.flavour is None
    assert new.value("scheme")["weights"] == {"num_bits": 8, "symmetric": True, "strategy": "tensor", "kwargs": {}}
    legacy = ok(QUANT + "    submodules: [features]\n").modifiers[0]
    assert legacy.flavour == "legacy"
    assert legacy.value("model_fuse_fn_name") == "conv_bn_relus"
    assert legacy.value("start_epoch") == 0.0


def test_mixing_quantization_flavours_is_one_error_naming_both_keys() -> None:
    _, diagnostics = load(QUANT + "    submodules: [features]\n    scheme: default\n")
    assert [(d.location.line, d.location.column, d.code) for d in diagnostics] == [(5, 5, "S210")]
    assert diagnostics[0].notes[0].location is not None and diagnostics[0].notes[0].location.line == 4


def test_quantization_end_epoch_must_be_minus_one() -> None:
    assert found(QUANT + "    end_epoch: 5.0\n") == [(4, 16, "S207")]


def test_yaml11_boolean_strings_follow_convert_to_bool() -> None:
    recipe = ok("modifiers:\n  - !TrainableParamsModifier\n    params: __ALL__\n    trainable: 'no'\n")
    # SparseML's convert_to_bool("no") is True (no "f" and no "0" in it); we keep that meaning.
    assert recipe.modifiers[0].value("trainable") is True


def test_schema_files_are_package_data() -> None:
    folder = Path(schema.__file__).parent / "modifiers"
    assert len(list(folder.glob("*.json"))) == 27
