"""The training algorithms' silent SparseML traps: one predicate, one code, in `recipe-lint` and in `recipekit compile`.

compiler/traps.py judges each trap once; the lint rule and the compiler report it with
the same code, span and message (the compile-only C424, C422, C423 and C426 became
L380-L383: diagnostics.RENUMBERED).
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from recipekit.compiler import compile_source
from recipekit.diagnostics import RENUMBERED, Severity
from recipekit.lint.config import LintConfig
from recipekit.lint.linter import lint_text
from recipekit.source import Source

OBS = """
modifiers:
  - !EpochRangeModifier
    start_epoch: 0.0
    end_epoch: 4.0
  - !OBSPruningModifier
    params: ['0.weight']
    init_sparsity: 0.5
    final_sparsity: 0.75
    start_epoch: 1.0
    end_epoch: 3.0
    update_frequency: 1.0
    num_grads: 8{extra}
"""

MFAC = """
modifiers:
  - !EpochRangeModifier
    start_epoch: 0.0
    end_epoch: 4.0
  - !MFACPruningModifier
    params: ['0.weight']
    init_sparsity: 0.5
    final_sparsity: 0.75
    start_epoch: 1.0
    end_epoch: 3.0
    update_frequency: 1.0
    damp: 0.0001{extra}
"""

DISTILL = """
modifiers:
  - !EpochRangeModifier
    start_epoch: 0.0
    end_epoch: 4.0
  - !DistillationModifier
    start_epoch: {start}
    end_epoch: {end}
"""


def _both(text: str, spe: float) -> tuple[list[tuple[int, int, str, str]], list[tuple[int, int, str, str]]]:
    text = textwrap.dedent(text).lstrip("\n")
    config = LintConfig()
    config.steps_per_epoch = spe
    _, linted = lint_text(Path("r.yaml"), text, False, config)
    _, compiled = compile_source(Source("r.yaml", text), spe)
    keep = {"L381", "L382", "L380", "L383"}

    def pick(diagnostics: list) -> list[tuple[int, int, str, str]]:  # type: ignore[type-arg]
        return [(d.location.line, d.location.column, d.code, d.message) for d in diagnostics if d.code in keep]

    for d in compiled:
        if d.code in keep:
            assert d.severity is Severity.WARNING
    return pick(linted), pick(compiled)


@pytest.mark.parametrize(
    ("text", "spe", "codes"),
    [
        (OBS.format(extra="\n    fisher_block_size: 50"), 2, [(11, 23, "L382")]),
        (OBS.format(extra=""), 2, [(5, 5, "L380"), (11, 23, "L382")]),  # the default block size 1: at the modifier
        (OBS.format(extra="\n    fisher_block_size: 1"), 2, [(13, 24, "L380"), (11, 23, "L382")]),
        (OBS.format(extra="\n    fisher_block_size: 50"), 1, [(5, 5, "L381"), (11, 23, "L382")]),
        (MFAC.format(extra="\n    use_gradient_buffering: true"), 1, [(5, 5, "L381")]),
        (MFAC.format(extra=""), 2, [(11, 23, "L382")]),
        (DISTILL.format(start=0.0, end=0.0), 2, [(7, 16, "L383")]),
        (DISTILL.format(start=2.0, end=1.0), 2, []),  # an end before the start: L301, refused by both
        (DISTILL.format(start=0.0, end=-1.0), 2, []),
        (DISTILL.format(start=0.0, end=2.0), 2, []),
    ],
)
def test_lint_and_compile_report_each_trap_with_one_code(text: str, spe: float, codes: list[tuple[int, int, str]]) -> None:
    linted, compiled = _both(text, spe)
    assert sorted(linted) == sorted(compiled)
    assert sorted((line, column, code) for line, column, code, _ in compiled) == sorted(codes)


def test_obs_at_one_step_per_epoch_keeps_no_updates() -> None:
    text = textwrap.dedent(OBS.format(extra="\n    fisher_block_size: 50")).lstrip("\n")
    plan, _ = compile_source(Source("r.yaml", text), 1)
    assert plan is not None
    (prune,) = [i for i in plan.instructions if i["op"] == "prune"]
    assert prune["updates"] == {"steps": []}


def test_the_old_compile_codes_point_at_the_lint_codes() -> None:
    assert {k: RENUMBERED[k] for k in ("C422", "C423", "C424", "C426")} == {"C422": "L381", "C423": "L382", "C424": "L380", "C426": "L383"}
