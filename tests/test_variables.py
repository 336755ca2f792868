"""Recipe variables: evaluation order, cycles, overrides, exact-name lookups, stages."""

from __future__ import annotations

from recipekit.diagnostics import Diagnostic
from tests.helpers import found, load, ok

BASE = """
num_epochs: 10.0
warmup: eval(start + 1)
start: eval(num_epochs / 5)
mask: [1, 4]
modifiers:
  - !EpochRangeModifier
    start_epoch: eval(warmup)
    end_epoch: eval(num_epochs)
  - !GMPruningModifier
    params: __ALL_PRUNABLE__
    init_sparsity: 0.05
    final_sparsity: 0.8
    start_epoch: eval(start)
    end_epoch: eval(num_epochs - 2)
    update_frequency: 1
    mask_type: eval(mask)
"""


def test_forward_references_and_types() -> None:
    recipe = ok(BASE)
    epoch_range, pruning = recipe.modifiers
    assert epoch_range.value("start_epoch") == 3.0
    assert pruning.value("end_epoch") == 8.0
    assert pruning.value("mask_type") == [1, 4]  # a list variable by exact name
    assert pruning.value("update_frequency") == 1 and type(pruning.value("update_frequency")) is int
    assert recipe.variables["start"].value == 2.0
    assert recipe.variables["warmup"].expression == "eval(start + 1)"
    assert pruning.params["end_epoch"].expression == "eval(num_epochs - 2)"


def test_version_and_metadata_are_not_variables() -> None:
    recipe = ok(
        "version: 1.1.0\n__metadata__: {a: 1}\nn: 1\nmodifiers:\n  - !EpochRangeModifier\n    start_epoch: 0.0\n    end_epoch: eval(n)\n"
    )
    assert list(recipe.variables) == ["n"]


def test_cycle_reports_the_path() -> None:
    _, diagnostics = load(
        "a: eval(b + 1)\nb: eval(c)\nc: eval(a)\nmodifiers:\n  - !EpochRangeModifier\n    start_epoch: 0.0\n    end_epoch: eval(a)\n"
    )
    cycles = [d for d in diagnostics if d.code == "P125"]
    assert [(d.location.line, d.location.column) for d in cycles] == [(1, 1)]
    assert "a -> b -> c -> a" in cycles[0].message
    assert [d.code for d in diagnostics] == ["P125"]  # no cascade at the modifier


def test_self_reference() -> None:
    assert found("a: eval(a * 2)\nmodifiers:\n  - !EpochRangeModifier\n    start_epoch: 0.0\n    end_epoch: 1.0\n") == [(1, 1, "P125")]


def test_undefined_variable_in_a_variable() -> None:
    assert found("a: eval(num_epoch * 2)\nnum_epochs: 1\nmodifiers: []\n") == [(1, 9, "P121")]


def test_bare_name_is_not_substituted_like_sparseml() -> None:
    _, diagnostics = load(BASE.replace("end_epoch: eval(num_epochs)", "end_epoch: num_epochs"))
    assert [(d.location.line, d.location.column, d.code) for d in diagnostics] == [(8, 16, "S205")]
    assert "write eval(num_epochs)" in diagnostics[0].message


def test_overrides_replace_the_raw_value_and_dependents_follow() -> None:
    recipe = ok(BASE, overrides={"num_epochs": 20})
    assert recipe.modifiers[0].value("end_epoch") == 20.0
    assert recipe.modifiers[0].value("start_epoch") == 5.0  # warmup = num_epochs / 5 + 1


def test_override_can_change_a_list() -> None:
    recipe = ok(BASE, overrides={"mask": "unstructured"})
    assert recipe.modifiers[1].value("mask_type") == "unstructured"


def test_override_of_an_unknown_variable_suggests_the_right_one() -> None:
    _, diagnostics = load(BASE, overrides={"num_epoch": 3})
    # An override comes from the command line: it is reported at the start of the recipe.
    assert [(d.location.line, d.location.column, d.code) for d in diagnostics] == [(1, 1, "P127")]
    assert "did you mean 'num_epochs'?" in diagnostics[0].message


def test_override_does_not_follow_aliases_as_in_sparseml() -> None:
    recipe, diagnostics = load(
        "num_epochs: &n 10.0\nmodifiers:\n  - !EpochRangeModifier\n    start_epoch: 0.0\n    end_epoch: *n\n",
        overrides={"num_epochs": 30.0},
    )
    assert recipe is not None
    assert [(d.location.line, d.location.column, d.code) for d in diagnostics] == [(5, 16, "P128")]
    assert recipe.modifiers[0].value("end_epoch") == 10.0
    assert recipe.variables["num_epochs"].value == 30.0


def test_eval_string_variable_used_in_arithmetic() -> None:
    _, diagnostics = load("name: abc\nmodifiers:\n  - !EpochRangeModifier\n    start_epoch: 0.0\n    end_epoch: eval(name + 1)\n")
    assert [(d.location.line, d.location.column, d.code) for d in diagnostics] == [(5, 26, "P122")]
    assert "string" in diagnostics[0].message


STAGED = """
num_epochs: 10.0
stage_0:
  num_epochs: 5.0
  stage_0_modifiers:
    - !EpochRangeModifier
      start_epoch: 0.0
      end_epoch: eval(num_epochs)
stage_1:
  stage_1_modifiers:
    - !EpochRangeModifier
      start_epoch: 5.0
      end_epoch: eval(num_epochs)
"""


def test_stage_variables_shadow_global_ones() -> None:
    recipe = ok(STAGED)
    assert [m.value("end_epoch") for m in recipe.modifiers] == [5.0, 10.0]
    assert [m.stage for m in recipe.modifiers] == ["stage_0", "stage_1"]
    assert recipe.stages == ("stage_0", "stage_1")


def test_overrides_reach_every_stage_like_sparseml() -> None:
    recipe = ok(STAGED, overrides={"num_epochs": 7.0})
    assert [m.value("end_epoch") for m in recipe.modifiers] == [7.0, 7.0]


def codes(diagnostics: list[Diagnostic]) -> list[str]:
    return [d.code for d in diagnostics]
