"""No input makes the front-end raise, and every reported position lies inside the file.

A small structural fuzzer over seed recipes (the bundled examples and a few
shapes that exercise every stage). The large-budget fuzzer belongs to bench/.
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recipekit.compiler import compile_source, load_text
from recipekit.findings import LintContext
from recipekit.lint import run_rules
from recipekit.lint_config import LintConfig
from recipekit.source import source_from_text

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
QUANT = """
n: 2
stage_a:
  k: eval(n * 2)
  stage_a_modifiers:
    - !QuantizationModifier
      start_epoch: eval(k)
      scheme: {weights: {num_bits: 4}, input_activations: null}
      scheme_overrides: {LayerNorm: default, Embedding: {weights: {num_bits: 8}}}
      ignore: [classifier]
    - !pytorch.GMPruningModifier
      params: [a.weight, 're:b.*']
      init_sparsity: 0.05
      final_sparsity: {0.8: [a.weight], 0.9: ['re:b.*']}
      start_epoch: 0.0
      end_epoch: eval(k + 1)
      update_frequency: 1
      mask_type: [1, 4]
"""
VALUES = ["-1", "0", "0.0", "1e-3", "99999999", "eval(1/3)", ".inf", "'2:4'", "[1, 4]", "block4", "channel", "null", "[]", "{}",
          "true", "ExponentialLR", "{0.5: [a]}", "__ALL__", "{milestones: true}", "{gamma: x, step_size: 0}"]  # fmt: skip
SEEDS = [p.read_text(encoding="utf-8") for p in sorted(EXAMPLES.glob("*.yaml"))] + [QUANT]
TOKENS = ["eval(", ")", "!GMPruningModifier", "*a", "&a ", "- ", ": ", "[", "]", "{", "}", '"', "'", "\t", "---",
          "-1", "1e-3", "yes", "\n", "  ", "eval(x ** 99)", "eval(-)", "<<: *a", "!!python/object:x", "\x00",
          "\r\n", "#", "? ", "|", ">", "__ALL__", "null", "0", "1.5", "eval(n)"]  # fmt: skip


@st.composite
def mutated(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(SEEDS))
    for _ in range(draw(st.integers(1, 4))):
        lines = text.splitlines(keepends=True) or [""]
        operation = draw(st.sampled_from(["cut", "drop", "duplicate", "insert", "indent", "number", "value"]))
        index = draw(st.integers(0, len(lines) - 1))
        if operation == "cut":
            text = text[: draw(st.integers(0, len(text)))]
        elif operation == "drop":
            text = "".join(lines[:index] + lines[index + 1 :])
        elif operation == "duplicate":
            text = "".join(lines[: index + 1] + lines[index:])
        elif operation == "indent":
            text = "".join([*lines[:index], "  " + lines[index], *lines[index + 1 :]])
        elif operation == "value":
            # Retype a value: keep the key, write something of another type or range.
            key, sep, _ = lines[index].partition(": ")
            if sep:
                lines[index] = key + sep + draw(st.sampled_from(VALUES)) + "\n"
                text = "".join(lines)
        elif operation == "number":
            text = text.replace("0.0", draw(st.sampled_from(["-0.0", "1e9", "0", ".5", "'0.0'", "eval(1/0)"])), 1)
        else:
            at = draw(st.integers(0, len(text)))
            text = text[:at] + draw(st.sampled_from(TOKENS)) + text[at:]
    return text


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated(), st.booleans())
def test_mutated_recipes_never_raise(text: str, markdown: bool) -> None:
    recipe, diagnostics = load_text(text, "fuzz.md" if markdown else "fuzz.yaml", markdown=markdown)
    if recipe is not None:
        # The compiler and the lint rules must not raise on anything the front-end accepts.
        source, _ = source_from_text(text, "fuzz.yaml", markdown=markdown)
        assert source is not None
        compile_source(source, 3)
        run_rules(LintContext(recipe, params=[], steps_per_epoch=2.5), LintConfig())
    last_line = text.count("\n") + text.count("\r") + 1
    for diagnostic in diagnostics:
        loc = diagnostic.location
        assert 1 <= loc.line <= last_line and loc.column >= 1
        assert (loc.end_line, loc.end_column) >= (loc.line, loc.column)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    from recipekit.source import source_from_bytes

    source, _ = source_from_bytes(data, "bytes.yaml", markdown=None)
    if source is not None:
        load_text(source.text, "bytes.yaml", markdown=False)


def test_regression_malformed_lr_kwargs_found_by_fuzzing() -> None:
    text = (
        "modifiers:\n  - !LearningRateModifier\n    lr_class: MultiStepLR\n    lr_kwargs: {milestones: true, gamma: 0.1}\n"
        "    init_lr: 0.1\n    start_epoch: 0.0\n"
    )
    source, _ = source_from_text(text, "r.yaml", markdown=False)
    assert source is not None
    plan, diagnostics = compile_source(source, 3)
    assert plan is None
    assert [(d.location.line, d.location.column, d.code) for d in diagnostics] == [(4, 16, "C402")]


def test_regression_malformed_scheme_overrides_found_by_fuzzing() -> None:
    text = "modifiers:\n  - !QuantizationModifier\n    scheme_overrides:\n      LayerNorm: {input_activations: n}\n"
    _, diagnostics = load_text(text, "r.yaml")
    assert [(d.location.line, d.location.column, d.code) for d in diagnostics] == [(4, 38, "S205")]
