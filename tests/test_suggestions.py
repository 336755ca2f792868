"""Advice that can be followed (issue 21, item 6): every value a rule suggests silences it.

Each case lints a recipe, takes the value the message suggests (the text the message quotes),
writes it where the recipe had the old value, and lints again: the rule must be gone. Fixes
(`--fix` edits) are applied the same way, for every rule's Bad example that offers one.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import Any

import pytest

from recipekit.lint.config import LintConfig
from recipekit.lint.fix import apply_edits
from recipekit.lint.linter import lint_text
from recipekit.lint.rule_docs import parse_rule_doc
from recipekit.lint_rules import all_rules

GM = """\
modifiers:
  - !EpochRangeModifier
    start_epoch: 0.0
    end_epoch: 10.0
  - !GMPruningModifier
    params: [{params}]
    init_sparsity: 0.05
    final_sparsity: {final}
    start_epoch: {start}
    end_epoch: 5.0
    update_frequency: {frequency}
    mask_type: {mask}
"""

PARAMS = [
    {"name": "fc.weight", "shape": [8, 8], "module_type": "Linear"},
    {"name": "fc.bias", "shape": [8], "module_type": "Linear"},
]


def gm(params: str = "fc.weight", final: str = "0.8", start: str = "1.0", frequency: str = "1.0", mask: str = "unstructured") -> str:
    return GM.format(params=params, final=final, start=start, frequency=frequency, mask=mask)


def _lint(text: str, spe: float | None, params: list[dict[str, Any]] | None) -> list[Any]:
    config = LintConfig()
    config.steps_per_epoch = spe
    _, found = lint_text(Path("r.yaml"), text, False, config, None, params)
    return found


LR_KWARGS = """\
modifiers:
  - !LearningRateModifier
    lr_class: StepLR
    lr_kwargs: {step: 1, gamma: 0.9}
    init_lr: 0.1
    start_epoch: 0.0
    end_epoch: 2.0
"""

COSINE = """\
modifiers:
  - !LearningRateModifier
    lr_class: CosineAnnealingWarmRestarts
    lr_kwargs: {lr_min: 0.001, cycle_epochs: 2.0}
    init_lr: 0.1
    start_epoch: -1.0
    end_epoch: 4.0
"""

DISTILL = """\
modifiers:
  - !EpochRangeModifier
    start_epoch: 0.0
    end_epoch: 4.0
  - !DistillationModifier
    start_epoch: 1.0
    end_epoch: 1.0
"""

# (code, recipe, steps per epoch, manifest, the value as written, how the message quotes the suggestion)
CASES = [
    # The case: 0.3333 at 3 steps per epoch drifts as 0.4 does; eval(1/3) does not.
    ("L351", gm(frequency="0.3333"), 3, None, "0.3333", r"; use (eval\([^)]*\)|[\d.]+) \("),
    ("L351", gm(frequency="0.4"), 3, None, "0.4", r"; use (eval\([^)]*\)|[\d.]+) \("),
    ("L351", gm(frequency="0.4"), 4, None, "0.4", r"; use (eval\([^)]*\)|[\d.]+) \("),
    ("L351", gm(frequency="0.3"), 7, None, "0.3", r"; use (eval\([^)]*\)|[\d.]+) \("),
    ("L350", gm(start="0.5"), 3, None, "start_epoch: 0.5", r"; write (eval\([^)]*\)|[\d.]+) to say so"),
    ("L350", gm(start="1.5"), 3, None, "start_epoch: 1.5", r"; write (eval\([^)]*\)|[\d.]+) to say so"),
    ("L350", gm(start="0.1"), 7, None, "start_epoch: 0.1", r"; write (eval\([^)]*\)|[\d.]+) to say so"),
    ("L350", gm(start="0.3"), 2.5, None, "start_epoch: 0.3", r"; write (eval\([^)]*\)|[\d.e-]+) to say so"),
    ("L314", gm(mask="'2:4'"), None, None, "init_sparsity: 0.05", r"; set it to ([\d.]+)"),
    ("L313", gm(mask="unstructred"), None, None, "unstructred", r"did you mean '([^']+)'"),
    ("L340", LR_KWARGS, None, None, "step:", r"did you mean '([^']+)'"),
    ("L344", COSINE, None, None, "start_epoch: -1.0", r"write start_epoch: ([\d.]+)"),
    ("L320", gm(params="fc.weigth"), None, PARAMS, "fc.weigth", r"did you mean '([^']+)'"),
    ("L320", gm(params="'re:weight'"), None, PARAMS, "re:weight", r"write '([^']+)'"),
    ("L383", DISTILL, None, None, "end_epoch: 1.0", r"use end_epoch (-1)"),
]


@pytest.mark.parametrize(("code", "text", "spe", "params", "written", "quoted"), CASES)
def test_applying_the_suggested_value_silences_the_rule(
    code: str, text: str, spe: float | None, params: list[dict[str, Any]] | None, written: str, quoted: str
) -> None:
    found = [d for d in _lint(text, spe, params) if d.code == code]
    assert found, f"{code} does not fire"
    match = re.search(quoted, found[0].message)
    assert match, found[0].message
    suggestion = match.group(1)
    if ":" in written and not written.startswith("re:"):
        key = written.split(":", maxsplit=1)[0]
        replacement = f"{key}: {suggestion}" if not written.endswith(":") else f"{suggestion}:"
    else:
        replacement = suggestion
    assert text.count(written) == 1
    fixed = text.replace(written, replacement)
    # Only the finding the suggestion answered (an end_epoch between steps too is another finding).
    again = [d for d in _lint(fixed, spe, params) if d.code == code and d.location.line == found[0].location.line]
    assert again == [], (suggestion, [d.message for d in again])


def test_the_drift_advice_names_a_value_that_is_one_step_at_three_steps_per_epoch() -> None:
    (finding,) = [d for d in _lint(gm(frequency="0.3333"), 3, None) if d.code == "L351"]
    assert finding.message.endswith("use eval(1/3) (1 step) or another whole number of steps")


@pytest.mark.parametrize("code", [code for code, rule in all_rules().items()])
def test_every_fix_a_bad_example_offers_silences_its_rule(code: str) -> None:
    doc = parse_rule_doc(all_rules()[code].__doc__ or "")
    text = textwrap.dedent(doc.bad)
    found = [d for d in _lint(text, doc.steps_per_epoch, doc.params) if d.code == code and d.fix is not None]
    if not found:
        pytest.skip(f"{code}'s Bad example offers no fix")
    fixed, count = apply_edits(text, found)
    assert count
    assert [d for d in _lint(fixed, doc.steps_per_epoch, doc.params) if d.code == code] == []
