"""The YAML layer: YAML 1.1 scalars as SparseML read them, aliases, tags, limits."""

from __future__ import annotations

import time

import pytest

from recipekit import limits
from recipekit.compiler import yaml11
from recipekit.compiler.yaml_tree import Map, Scalar, compose
from recipekit.source import source_from_text
from tests.helpers import EPOCH_RANGE, found, ok


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("1e-3", "str", "1e-3"),  # YAML 1.1: no dot, so not a float
        ("1.0e-3", "float", 0.001),
        ("1.0e3", "str", "1.0e3"),  # YAML 1.1 needs a signed exponent
        ("yes", "bool", True),
        ("Off", "bool", False),
        ("010", "int", 8),
        ("0x1F", "int", 31),
        ("1:30", "int", 90),
        ("1_000", "int", 1000),
        ("~", "null", None),
        (".inf", "float", float("inf")),
        ("-.5", "str", "-.5"),  # PyYAML wants a digit before the dot when signed
        ("-0.5", "float", -0.5),
        ("2024-01-02", "timestamp", "2024-01-02"),
        ("unstructured", "str", "unstructured"),
    ],
)
def test_plain_scalars_resolve_as_pyyaml(text: str, kind: str, value: object) -> None:
    assert yaml11.resolve_plain(text) == (kind, value)


def _root(text: str) -> Map:
    source, _ = source_from_text(text, "r.yaml", markdown=False)
    assert source is not None
    root, diagnostics = compose(source)
    assert diagnostics == []
    assert isinstance(root, Map)
    return root


def test_quoted_scalars_are_strings() -> None:
    root = _root("a: '1.5'\nb: \"yes\"\n")
    values = [v.value for _, v in root.entries if isinstance(v, Scalar)]
    assert values == ["1.5", "yes"]


def test_alias_sites_keep_their_own_span_and_remember_the_anchor() -> None:
    root = _root("a: &n 5\nb: *n\n")
    b = root.get("b")
    assert isinstance(b, Scalar) and b.value == 5
    assert (b.span.start, b.span.end) == (11, 13)
    assert b.alias_of is not None and (b.alias_of.start, b.alias_of.end) == (6, 7)


def test_anchors_work_as_variables_in_modifiers() -> None:
    recipe = ok(
        """
        end: &end 12.0
        modifiers:
          - !EpochRangeModifier
            start_epoch: 0.0
            end_epoch: *end
        """
    )
    assert recipe.modifiers[0].value("end_epoch") == 12.0


def test_undefined_alias_is_reported_at_the_alias() -> None:
    assert found("a: 1\nmodifiers:\n  - !EpochRangeModifier\n    start_epoch: 0.0\n    end_epoch: *nope\n") == [(5, 16, "P108")]


def test_duplicate_keys_name_both_positions() -> None:
    _, diagnostics = __import__("tests.helpers", fromlist=["load"]).load("a: 1\nb: 2\na: 3\n" + EPOCH_RANGE)
    duplicate = next(d for d in diagnostics if d.code == "P111")
    assert (duplicate.location.line, duplicate.location.column) == (3, 1)
    assert duplicate.notes[0].location is not None
    assert (duplicate.notes[0].location.line, duplicate.notes[0].location.column) == (1, 1)


def test_duplicate_parameter_inside_a_modifier() -> None:
    assert found("modifiers:\n  - !EpochRangeModifier\n    start_epoch: 0.0\n    end_epoch: 1.0\n    start_epoch: 2.0\n") == [
        (5, 5, "P111")
    ]


def test_several_documents() -> None:
    assert found(EPOCH_RANGE + "---\nx: 1\n") == [(5, 1, "P107")]


def test_syntax_error_position() -> None:
    # The flow list swallows `modifiers`, so the parser trips over the colon.
    assert found("a: [1, 2\nmodifiers: []\n") == [(2, 10, "P101")]


def test_tabs_in_indentation() -> None:
    assert found("modifiers:\n\t- !EpochRangeModifier\n") == [(2, 1, "P101")]


@pytest.mark.parametrize(
    "tag",
    ["!!python/object/apply:os.system", "!!python/name:os.system", "!!python/object:collections.OrderedDict"],
)
def test_python_tags_are_refused_never_constructed(tag: str) -> None:
    assert found(f"x: {tag} [ls]\n" + EPOCH_RANGE) == [(1, 4, "P112")]


def test_python_tag_on_a_modifier_item() -> None:
    assert found("modifiers:\n  - !!python/object/apply:os.system [ls]\n") == [(2, 5, "P112")]


def test_unknown_global_tag() -> None:
    assert found("x: !!binary aGk=\n" + EPOCH_RANGE) == [(1, 4, "P113")]


def test_standard_tags_convert() -> None:
    recipe = ok("modifiers:\n  - !EpochRangeModifier\n    start_epoch: !!float 0\n    end_epoch: !!float '3'\n")
    assert recipe.modifiers[0].value("start_epoch") == 0.0


def test_merge_keys_follow_pyyaml() -> None:
    recipe = ok(
        """
        base: &base {start_epoch: 0.0, end_epoch: 4.0}
        modifiers:
          - !EpochRangeModifier
            <<: *base
            end_epoch: 5.0
        """
    )
    assert recipe.modifiers[0].value("end_epoch") == 5.0
    assert recipe.modifiers[0].value("start_epoch") == 0.0


def test_billion_laughs_is_rejected_quickly() -> None:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 10):
        lines.append(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]")
    started = time.perf_counter()
    # Each *a5 on line 7 stands for over a million nodes: the first one crosses the limit.
    assert found("\n".join(lines) + "\n" + EPOCH_RANGE) == [(7, 10, "P110")]
    assert time.perf_counter() - started < 5


def test_recursive_alias_is_rejected() -> None:
    assert [c for _, _, c in found("a: &a [1, *a]\n" + EPOCH_RANGE)] == ["P110"]


def test_deep_nesting_is_rejected() -> None:
    deep = "a: " + "[" * 10_000 + "]" * 10_000 + "\n"
    # The top-level mapping is level 1, so the 64th bracket (column 3 + 64) is too deep.
    assert found(deep + EPOCH_RANGE) == [(1, 3 + limits.MAX_DEPTH, "P109")]
