"""Where modifiers live: `*modifiers*` keys, legacy lists, stages, v2 recipes."""

from __future__ import annotations

from tests.helpers import found, ok

MOD = "  - !EpochRangeModifier\n    start_epoch: 0.0\n    end_epoch: 1.0\n"


def test_every_key_containing_modifiers_is_a_group() -> None:
    recipe = ok("training_modifiers:\n" + MOD + "modifiers_x:\n" + MOD.replace("1.0", "2.0"))
    assert [m.group for m in recipe.modifiers] == ["training_modifiers", "modifiers_x"]
    assert [m.index for m in recipe.modifiers] == [0, 1]


def test_a_top_level_list_is_the_modifier_list() -> None:
    assert len(ok(MOD.replace("  - ", "- ").replace("    ", "  ")).modifiers) == 1


def test_pytorch_prefixed_tags() -> None:
    recipe = ok("modifiers:\n  - !pytorch.EpochRangeModifier\n    start_epoch: 0.0\n    end_epoch: 1.0\n")
    assert recipe.modifiers[0].type == "EpochRangeModifier"


def test_modifiers_under_a_key_without_modifiers() -> None:
    assert found("modifiers: []\nmy_list:\n" + MOD) == [(2, 1, "S209")]


def test_misspelled_group_key() -> None:
    assert found("modifers:\n" + MOD) == [(1, 1, "S209")]
    assert found("Modifiers:\n" + MOD) == [(1, 1, "S209")]
    assert found("modifers: []\n") == [(1, 1, "S200")]


def test_no_modifiers() -> None:
    assert found("a: 1\nb: 2\n") == [(1, 1, "S200")]
    assert found("just a string\n") == [(1, 1, "S200")]


def test_mixed_recipe_drops_stages_like_sparseml() -> None:
    text = (
        "modifiers:\n"
        + MOD
        + "stage_a:\n  stage_a_modifiers:\n"
        + MOD.replace("  - ", "    - ").replace("    start", "      start").replace("    end", "      end")
    )
    recipe, diagnostics = __import__("tests.helpers", fromlist=["load"]).load(text)
    assert [(d.location.line, d.location.column, d.code) for d in diagnostics] == [(5, 1, "S211")]
    assert recipe is not None and len(recipe.modifiers) == 1


def test_v2_recipe_is_recognised_not_misreported() -> None:
    assert found("test_stage:\n  quant_modifiers:\n    QuantizationModifier:\n      scheme: W4A16\n") == [(3, 5, "S227")]


def test_untagged_list_item() -> None:
    assert found("modifiers:\n  - start_epoch: 0.0\n") == [(2, 5, "S201")]


def test_modifier_as_a_mapping_value() -> None:
    assert found("modifiers: !EpochRangeModifier\n  start_epoch: 0.0\n  end_epoch: 1.0\n") == [(1, 12, "S214")]


def test_scalar_parameters() -> None:
    assert found("modifiers:\n  - !EpochRangeModifier 3\n") == [(2, 25, "S213")]


def test_tag_without_parameters_reports_missing_ones_at_the_tag() -> None:
    assert found("modifiers:\n  - !EpochRangeModifier\n") == [(2, 5, "S204"), (2, 5, "S204")]
