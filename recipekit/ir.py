"""The typed recipe IR: what the front-end hands to the linter and compiler.

Every value carries the span it came from, so later stages can report
positions without seeing YAML.  Values are SparseML's *effective* values:
variables evaluated, defaults filled in, coercions applied.
"""

from __future__ import annotations

from typing import Any, Final

from recipekit.record import Record
from recipekit.source import Source, Span

#: Modifiers that ramp sparsity from init_sparsity to final_sparsity (SparseML's BaseGradualPruningModifier).
GRADUAL_PRUNERS = (
    "GMPruningModifier",
    "MagnitudePruningModifier",
    "GlobalMagnitudePruningModifier",
    "MovementPruningModifier",
    "StructuredPruningModifier",
    "OBSPruningModifier",
    "MFACPruningModifier",
)


class Param(Record):
    __slots__ = ("name", "value", "span", "key_span", "coerced_from", "expression", "ignored_value", "ignored")

    def __init__(
        self,
        name: str,
        value: Any,
        span: Span | None = None,
        key_span: Span | None = None,
        coerced_from: str | None = None,
        expression: str | None = None,
        ignored_value: Any = None,
        ignored: bool = False,
    ) -> None:
        self.name: Final = name
        self.value: Final = value
        #: Span of the value in the file; None when the default was used.
        self.span: Final = span
        self.key_span: Final = key_span
        #: The raw text of a numeric string that was converted to a number
        #: (``1e-3`` is a string under SparseML's YAML 1.1 loader).
        self.coerced_from: Final = coerced_from
        #: The ``eval(...)`` text the value was computed from.
        self.expression: Final = expression
        #: SparseML ignores any value given for this parameter and uses ``value``.
        self.ignored_value: Final = ignored_value
        self.ignored: Final = ignored

    @property
    def given(self) -> bool:
        return self.span is not None

    def with_value(self, value: Any) -> Param:
        """The same parameter, from the same place, with SparseML's effective ``value``."""
        return Param(self.name, value, self.span, self.key_span, self.coerced_from, self.expression, self.ignored_value, self.ignored)


class Modifier(Record):
    __slots__ = ("type", "index", "span", "group", "params", "stage", "flavour", "stripped")

    def __init__(
        self,
        type: str,
        index: int,
        span: Span,
        group: str,
        params: dict[str, Param],
        stage: str | None = None,
        flavour: str | None = None,
        stripped: tuple[str, ...] = (),
    ) -> None:
        self.type: Final = type
        #: Position in file order, 0-based.
        self.index: Final = index
        #: The span of the modifier's tag.
        self.span: Final = span
        self.group: Final = group
        self.params: Final = params
        self.stage: Final = stage
        #: ``legacy`` for the legacy QuantizationModifier, else None.
        self.flavour: Final = flavour
        #: Keys SparseML strips before constructing the modifier (``log_types``).
        self.stripped: Final = stripped

    def value(self, name: str) -> Any:
        return self.params[name].value


class Variable(Record):
    __slots__ = ("name", "value", "span", "key_span", "expression", "stage", "overridden")

    def __init__(
        self,
        name: str,
        value: Any,
        span: Span,
        key_span: Span,
        expression: str | None = None,
        stage: str | None = None,
        overridden: bool = False,
    ) -> None:
        self.name: Final = name
        self.value: Final = value
        self.span: Final = span
        self.key_span: Final = key_span
        self.expression: Final = expression
        self.stage: Final = stage
        self.overridden: Final = overridden


class Recipe(Record):
    __slots__ = ("source", "modifiers", "variables", "stages", "tree")
    _not_compared = ("tree",)

    def __init__(
        self,
        source: Source,
        modifiers: tuple[Modifier, ...],
        variables: dict[str, Variable] | None = None,
        stages: tuple[str, ...] = (),
        tree: Any = None,
    ) -> None:
        self.source: Final = source
        self.modifiers: Final = modifiers
        self.variables: Final = variables if variables is not None else {}
        self.stages: Final = stages
        #: The YAML node tree it was read from (recipekit.compiler.yaml_tree), for the lint rules
        #: about how values were written; kept so linting does not parse the file twice.
        self.tree: Final = tree
