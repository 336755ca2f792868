"""The recipe fuzzer shared by tests/test_fuzz.py (small budget) and bench/fuzz.py (large budget).

`mutated(seeds)` mutates recipes structurally (cut at a byte offset, drop or
duplicate lines, retype values, perturb numbers, change indentation, inject
tokens, tags and expressions); `check_text`/`check_bytes` state the property:
no stage raises, and every reported position lies inside the file.
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import strategies as st

from recipekit.compiler import compile_source, load_text
from recipekit.lint.config import LintConfig
from recipekit.lint.linter import run_rules
from recipekit.lint_rules._context import LintContext
from recipekit.source import source_from_bytes, source_from_text

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
BUNDLED_SEEDS = [p.read_text(encoding="utf-8") for p in sorted(EXAMPLES.glob("*.yaml"))] + [QUANT]
TOKENS = ["eval(", ")", "!GMPruningModifier", "*a", "&a ", "- ", ": ", "[", "]", "{", "}", '"', "'", "\t", "---",
          "-1", "1e-3", "yes", "\n", "  ", "eval(x ** 99)", "eval(-)", "<<: *a", "!!python/object:x", "\x00",
          "\r\n", "#", "? ", "|", ">", "__ALL__", "null", "0", "1.5", "eval(n)"]  # fmt: skip


@st.composite
def mutated(draw: st.DrawFn, seeds: list[str] = BUNDLED_SEEDS) -> str:
    text = draw(st.sampled_from(seeds))
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


def check_text(text: str, markdown: bool) -> None:
    """Front-end, compiler and every lint rule accept ``text`` without raising; positions lie inside it."""
    recipe, diagnostics = load_text(text, "fuzz.md" if markdown else "fuzz.yaml", markdown=markdown)
    if recipe is not None:
        # The compiler and the lint rules must not raise on anything the front-end accepts.
        source, _ = source_from_text(text, "fuzz.yaml", markdown=markdown)
        assert source is not None
        _, compiled = compile_source(source, 3)
        diagnostics = diagnostics + compiled
        run_rules(LintContext(recipe, params=[], steps_per_epoch=2.5), LintConfig())
    last_line = text.count("\n") + text.count("\r") + 1
    for diagnostic in diagnostics:
        loc = diagnostic.location
        assert 1 <= loc.line <= last_line and loc.column >= 1, (diagnostic.code, loc)
        assert (loc.end_line, loc.end_column) >= (loc.line, loc.column), (diagnostic.code, loc)


def check_bytes(data: bytes) -> None:
    """Any bytes: decoding either refuses with a diagnostic or yields text the front-end accepts without raising."""
    source, _ = source_from_bytes(data, "bytes.yaml", markdown=None)
    if source is not None:
        check_text(source.text, markdown=False)
