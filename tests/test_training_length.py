"""One definition of the training length, SparseML's manager.max_epochs (issue 21, item 2).

SparseML 1.8 trains for the largest ceil(start_epoch) or ceil(end_epoch) over every modifier,
not the EpochRangeModifier's end. recipe-lint's L305, the plan, `show`, `recipekit rule L305`,
docs/plan-format.md and the trainer callbacks' reconciliation all say so in the same words.
"""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from recipekit import cli
from recipekit.compiler import compile_source
from recipekit.lint.config import LintConfig
from recipekit.lint.linter import lint_text
from recipekit.plan.schedule import LENGTH_RULE
from recipekit.source import Source

PRUNER_PAST_RANGE = """\
modifiers:
  - !EpochRangeModifier
    start_epoch: 0.0
    end_epoch: 6.0
  - !GMPruningModifier
    params: ["re:.*weight"]
    init_sparsity: 0.05
    final_sparsity: 0.8
    start_epoch: 1.0
    end_epoch: 9.0
    update_frequency: 1.0
"""

QAT_AT_THE_END = """\
num_epochs: 6
modifiers:
  - !EpochRangeModifier
    start_epoch: 0.0
    end_epoch: eval(num_epochs)
  - !QuantizationModifier
    start_epoch: 4.0
"""


def _l305(text: str, variables: dict[str, object] | None = None, spe: float | None = None) -> list[tuple[int, int, str]]:
    config = LintConfig()
    config.steps_per_epoch = spe
    _, found = lint_text(Path("r.yaml"), text, False, config, variables)
    return [(d.location.line, d.location.column, d.message) for d in found if d.code == "L305"]


def test_an_epoch_range_shorter_than_sparsemls_length_is_the_mistake_not_the_pruner() -> None:
    """The issue's case: lint said the pruner "is cut short"; SparseML (and the plan) train 9 epochs and it completes."""
    found = _l305(PRUNER_PAST_RANGE)
    assert found == [
        (
            4,
            16,
            f"the EpochRangeModifier ends at epoch 6, but training lasts 9 epochs ({LENGTH_RULE}): GMPruningModifier at line 5 "
            "ends at 9; fit that modifier into 6 epochs, or set end_epoch: 9",
        )
    ]
    plan, _ = compile_source(Source("r.yaml", PRUNER_PAST_RANGE), 2)
    assert plan is not None and (plan.max_epochs, plan.total_steps) == (9, 18)
    (prune,) = [i for i in plan.instructions if i["op"] == "prune"]
    assert prune["end_step"] == 18 and prune["updates"]["steps"][-1] == 16  # the ramp runs to its last update


def test_qat_that_starts_where_training_ends_trains_for_no_step(tmp_path: Path) -> None:
    """The issue's case with --var num_epochs=2: lint said "never runs" against 2 epochs; SparseML trains 4."""
    found = _l305(QAT_AT_THE_END, {"num_epochs": 2})
    assert [(line, column) for line, column, _ in found] == [(5, 16), (7, 18)]
    assert found[0][2].startswith("the EpochRangeModifier ends at epoch 2, but training lasts 4 epochs")
    assert found[0][2].endswith("QuantizationModifier at line 6 starts at 4; fit that modifier into 2 epochs, or set end_epoch: 4")
    assert found[1][2] == (
        f"QuantizationModifier starts at epoch 4, where training ends after 4 epochs ({LENGTH_RULE}): it trains for no step; "
        "start it earlier, or end a modifier later to train longer"
    )
    # show agrees: 4 epochs, QAT "starts" at the step where training ends.
    path = tmp_path / "r.yaml"
    path.write_text(QAT_AT_THE_END, encoding="utf-8")
    result = CliRunner().invoke(cli.main, ["show", str(path), "--steps-per-epoch", "2", "--var", "num_epochs=2"])
    assert "8 steps = 4 epochs x 2 steps per epoch" in result.output
    # Without a mismatch nothing is said; with the real length QAT trains.
    assert _l305(QAT_AT_THE_END) == []


def test_a_start_between_the_last_step_and_the_end_trains_for_no_step_with_steps_per_epoch() -> None:
    text = QAT_AT_THE_END.replace("start_epoch: 4.0", "start_epoch: 5.9")
    assert _l305(text) == []
    assert [line for line, _, _ in _l305(text, spe=2)] == [7]  # step 12 of 12: past the last step


def test_the_rule_docs_the_plan_format_and_the_callbacks_say_the_same() -> None:
    rule = CliRunner().invoke(cli.main, ["rule", "L305"]).output
    assert "manager.max_epochs" in rule and "`ceil(end_epoch)`" in rule
    docs = (Path(__file__).parents[1] / "docs" / "plan-format.md").read_text(encoding="utf-8")
    assert LENGTH_RULE in " ".join(docs.split())
    source = (Path(__file__).parents[1] / "recipekit" / "integrations" / "_common.py").read_text(encoding="utf-8")
    assert "LENGTH_RULE" in source and "L305" in source
