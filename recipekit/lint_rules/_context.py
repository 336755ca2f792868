"""What lint rules see and produce.

A rule is a module under ``recipekit/lint_rules/`` with ``CODE``, ``NAME``,
``SEVERITY`` and ``check(ctx) -> Iterator[Finding]``.  The engine
(:mod:`recipekit.lint.linter`) stamps each finding with the rule's code and the
configured severity, applies suppressions, and turns spans into positions.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from functools import cached_property
from typing import Any, Final

from recipekit.compiler.v2.model import V2Recipe
from recipekit.compiler.yaml_tree import Map, Node, Scalar, Seq
from recipekit.ir import GRADUAL_PRUNERS, Modifier, Param, Recipe
from recipekit.plan import schedule
from recipekit.plan import selectors as param_match
from recipekit.record import Record
from recipekit.source import Source, Span


class TextEdit(Record):
    __slots__ = ("span", "text")

    def __init__(self, span: Span, text: str) -> None:
        self.span: Final = span
        self.text: Final = text


class Finding(Record):
    __slots__ = ("span", "message", "related", "fix")

    def __init__(
        self,
        span: Span,
        message: str,
        related: tuple[tuple[str, Span], ...] = (),
        fix: tuple[str, tuple[TextEdit, ...]] | None = None,
    ) -> None:
        self.span: Final = span
        self.message: Final = message
        #: Related positions: (message, span).
        self.related: Final = related
        self.fix: Final = fix


PRUNERS = (*GRADUAL_PRUNERS, "ConstantPruningModifier", "ACDCPruningModifier", "RigLPruningModifier", "TopKASTPruningModifier")
LR_WRITERS = ("SetLearningRateModifier", "LearningRateFunctionModifier", "LearningRateModifier")


class LintContext:
    """One recipe and what it is linted against; derived facts are computed once, on first use."""

    def __init__(self, recipe: Recipe, params: list[dict[str, Any]] | None = None, steps_per_epoch: float | None = None) -> None:
        self.recipe: Final = recipe
        #: The model's parameters ({"name", "shape", "module_type"}), when a manifest was given.
        self.params: Final = params
        self.steps_per_epoch: Final = steps_per_epoch

    @property
    def source(self) -> Source:
        return self.recipe.source

    def of_type(self, *types: str) -> list[Modifier]:
        return [m for m in self.recipe.modifiers if m.type in types]

    @cached_property
    def training_end(self) -> float | None:
        """The epoch training ends: SparseML's ``manager.max_epochs``, as the plan has it (not the EpochRangeModifier's end).

        SparseML 1.8 trains for the largest ``ceil(start_epoch)`` or ``ceil(end_epoch)`` (-1 left out)
        over every modifier (``optim/manager.py: _max_modifier_epoch``); None when nothing sets it.
        """
        end = schedule.max_epochs(self._epochs())
        return float(end) if end > 0 else None

    @cached_property
    def length_setter(self) -> tuple[Modifier, str] | None:
        """The modifier whose start or end sets the training length, and which of the two (an end before a start)."""
        end = self.training_end
        if end is None:
            return None
        for name in ("end_epoch", "start_epoch"):
            for modifier in self.recipe.modifiers:
                if "start_epoch" in modifier.params and "end_epoch" in modifier.params:
                    value = float(modifier.value(name))
                    if value > -1 and math.ceil(value) == end:
                        return modifier, name
        return None

    def _epochs(self) -> list[tuple[float, float]]:
        return [
            (float(m.value("start_epoch")), float(m.value("end_epoch")))
            for m in self.recipe.modifiers
            if "start_epoch" in m.params and "end_epoch" in m.params
        ]

    @cached_property
    def tree(self) -> Node | None:
        """The YAML node tree, for rules about how values were written."""
        if self.recipe.tree is not None:
            tree: Node = self.recipe.tree
            return tree
        from recipekit.compiler.yaml_tree import compose

        return compose(self.source)[0]

    @cached_property
    def v2(self) -> list[tuple[V2Recipe, Source]]:
        """The file's v2 (stage-format) recipes: itself, or those a config embeds; empty for v1."""
        if self.recipe.modifiers:
            return []  # a v1 recipe (the v2 front-end yields a recipe without modifiers): skip importing it
        from recipekit.compiler.v2.front import v2_views

        return v2_views(self.tree, self.source) if self.tree is not None else []

    def span_of(self, modifier: Modifier, name: str) -> Span:
        """The value's span, or the modifier's tag when the value was defaulted."""
        param = modifier.params.get(name)
        return param.span if param is not None and param.span is not None else modifier.span

    def key_span_of(self, modifier: Modifier, name: str) -> Span:
        param = modifier.params.get(name)
        return param.key_span if param is not None and param.key_span is not None else modifier.span

    def patterns(self, modifier: Modifier) -> list[str]:
        value = modifier.value("params") if "params" in modifier.params else []
        final = modifier.params.get("final_sparsity")
        if isinstance(final, Param) and isinstance(final.value, dict):
            return [p for names in final.value.values() for p in names]
        if value == []:
            return ["__ALL_PRUNABLE__"]
        return [value] if isinstance(value, str) else list(value)

    def shared(self, a: Modifier, b: Modifier) -> list[str]:
        """Parameters both modifiers select: resolved with a manifest, else the names as written."""
        names_a, names_b = self.matched(a), self.matched(b)
        if names_a is not None and names_b is not None:
            return sorted(names_a & names_b)
        return sorted(set(self.patterns(a)) & set(self.patterns(b)))

    def matched(self, modifier: Modifier) -> set[str] | None:
        """Parameter names a modifier selects, when a manifest is known."""
        if self.params is None:
            return None
        names, _ = param_match.resolve(self.patterns(modifier), self.params)
        return set(names)


def walk(node: Node | None) -> Iterator[Node]:
    """Every node of the tree once; alias sites are visited, what they point to is not re-walked."""
    stack = [node] if node is not None else []
    while stack:
        current = stack.pop()
        yield current
        if current.alias_of is not None:
            continue
        if isinstance(current, Seq):
            stack.extend(reversed(current.items))
        elif isinstance(current, Map):
            for key, value in reversed(current.entries):
                stack.extend([value, key])


def scalars(node: Node | None) -> Iterator[tuple[Scalar, bool]]:
    """Every scalar as written once, with whether it is a mapping key (alias sites are skipped)."""
    keys: set[int] = set()
    for current in walk(node):  # a mapping comes before its entries
        if isinstance(current, Map):
            keys.update(id(key) for key, _ in current.entries)
        elif isinstance(current, Scalar) and current.alias_of is None:
            yield current, id(current) in keys


def epoch_range(modifier: Modifier, training_end: float | None) -> tuple[float, float]:
    """[start, end) a modifier is active over; -1 start is 0, -1 end is the training end (or infinity)."""
    start = float(modifier.value("start_epoch")) if "start_epoch" in modifier.params else -1.0
    end = float(modifier.value("end_epoch")) if "end_epoch" in modifier.params else -1.0
    lower = max(start, 0.0)
    upper = end if end >= 0 else (training_end if training_end is not None else math.inf)
    return lower, upper


def overlap(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


__all__ = ["GRADUAL_PRUNERS", "Finding", "LintContext", "TextEdit", "epoch_range", "overlap", "scalars", "walk"]
