"""Lint reports everything in one run (issue 21, item 5).

A schema error in one modifier (an unknown key, a bad enum such as `inter_func: cubicc`) used to
hide every lint rule for the whole recipe: one CI round trip per layer. The rules now run on every
modifier the schema could make sense of (a parameter that failed holds its default, its error is
reported) and on the rest of the recipe; compile still refuses the recipe.
"""

from __future__ import annotations

from pathlib import Path

from recipekit.compiler import compile_source
from recipekit.lint.config import LintConfig
from recipekit.lint.linter import lint_text
from recipekit.source import Source

RECIPE = """\
modifiers:
  - !EpochRangeModifier
    start_epoch: 0.0
    end_epoch: 10.0
  - !GMPruningModifier
    params: ["re:.*weight"]
    init_sparsity: 0.05
    final_sparsity: 0.8
    start_epoch: 4.0
    end_epoch: 2.0
    update_frequency: 1.0
    inter_func: cubicc
  - !SetLearningRateModifier
    learning_rate: 0.1
    start_epoch: 2.0
    colour: red
  - !QuantizationModifier
    start_epoch: 5.0
    disable_quantization_observer_epoch: 3.0
"""


def _lint(text: str) -> list[tuple[int, int, str]]:
    _, found = lint_text(Path("r.yaml"), text, False, LintConfig())
    return [(d.location.line, d.location.column, d.code) for d in found]


def test_schema_errors_and_lint_rules_come_in_one_run() -> None:
    assert _lint(RECIPE) == [
        (10, 16, "L301"),  # in the modifier whose inter_func is misspelled
        (12, 17, "S207"),
        (16, 5, "S203"),
        (19, 42, "L331"),  # in another modifier
    ]


def test_an_unknown_key_does_not_hide_the_other_modifiers_rules() -> None:
    text = RECIPE.replace("    inter_func: cubicc\n", "").replace("end_epoch: 2.0", "end_epoch: 8.0")
    assert _lint(text) == [(15, 5, "S203"), (17, 18, "L333"), (18, 42, "L331")]


def test_compile_still_refuses_the_recipe() -> None:
    plan, found = compile_source(Source("r.yaml", RECIPE), 4)
    assert plan is None
    assert tuple(d.code for d in found if d.code.startswith("S")) == ("S207", "S203")


def test_a_broken_yaml_value_does_not_feed_the_rules() -> None:
    """An undefined alias reads as null: the rules would misjudge it, so they wait for the fix."""
    text = RECIPE.replace("    inter_func: cubicc\n", "").replace("learning_rate: 0.1", "learning_rate: *lr")
    assert [code for _, _, code in _lint(text)] == ["P108", "S203"]


def test_a_value_the_front_end_refused_is_reported_once() -> None:
    """`5e-2` is S208 (a string to SparseML where a number is needed): not L360 again at the same place."""
    text = RECIPE.replace("    inter_func: cubicc\n", "").replace("init_sparsity: 0.05", "init_sparsity: 5e-2")
    found = _lint(text)
    assert (7, 20, "S208") in found and not any(code == "L360" for _, _, code in found)
