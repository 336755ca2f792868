"""recipekit.record: value semantics for the hand-written data classes."""

from __future__ import annotations

import pytest

from recipekit.compiler.expr import Const, Name
from recipekit.ir import Recipe
from recipekit.source import Source, Span


def test_equal_by_fields_and_class() -> None:
    assert Span(1, 2) == Span(1, 2)
    assert hash(Span(1, 2)) == hash(Span(1, 2))
    assert Span(1, 2) != Span(1, 3)
    assert Const(0, 1, "a") != Name(0, 1, "a")  # same fields, another class
    assert Span(1, 2) != (1, 2)


def test_fields_follow_the_constructor_and_include_the_base_class() -> None:
    assert Name._fields == ("start", "end", "name")
    assert repr(Name(0, 1, "a")) == "Name(start=0, end=1, name='a')"


def test_caches_and_named_fields_are_not_compared() -> None:
    source = Source("r.yaml", "a: 1\n")
    assert "_line_starts" not in Source._fields
    assert Recipe(source, (), tree="one tree") == Recipe(source, (), tree="another")
    assert "tree" not in repr(Recipe(source, ()))


def test_mutable_records_are_not_hashable() -> None:
    with pytest.raises(TypeError):
        hash(Source("r.yaml", ""))
