"""The typed recipe IR: what the front-end hands to the linter and compiler.

Every value carries the span it came from, so later stages can report
positions without seeing YAML.  Values are SparseML's *effective* values:
variables evaluated, defaults filled in, coercions applied.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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


@dataclass(frozen=True)
class Param:
    name: str
    value: Any
    #: Span of the value in the file; None when the default was used.
    span: Span | None = None
    key_span: Span | None = None
    #: The raw text of a numeric string that was converted to a number
    #: (``1e-3`` is a string under SparseML's YAML 1.1 loader).
    coerced_from: str | None = None
    #: The ``eval(...)`` text the value was computed from.
    expression: str | None = None
    #: SparseML ignores any value given for this parameter and uses ``value``.
    ignored_value: Any = None
    ignored: bool = False

    @property
    def given(self) -> bool:
        return self.span is not None


@dataclass(frozen=True)
class Modifier:
    type: str
    #: Position in file order, 0-based.
    index: int
    #: The span of the modifier's tag.
    span: Span
    group: str
    params: dict[str, Param]
    stage: str | None = None
    #: ``legacy`` for the legacy QuantizationModifier, else None.
    flavour: str | None = None
    #: Keys SparseML strips before constructing the modifier (``log_types``).
    stripped: tuple[str, ...] = ()

    def value(self, name: str) -> Any:
        return self.params[name].value


@dataclass(frozen=True)
class Variable:
    name: str
    value: Any
    span: Span
    key_span: Span
    expression: str | None = None
    stage: str | None = None
    overridden: bool = False


@dataclass(frozen=True)
class Recipe:
    source: Source
    modifiers: tuple[Modifier, ...]
    variables: dict[str, Variable] = field(default_factory=dict)
    stages: tuple[str, ...] = ()
    #: The YAML node tree it was read from (recipekit.compiler.yaml_tree), for the lint rules
    #: about how values were written; kept so linting does not parse the file twice.
    tree: Any = field(default=None, compare=False, repr=False)
