"""Small helpers shared by rules (like yamllint's rules/common.py)."""

from __future__ import annotations

from collections.abc import Callable

from recipekit.lint_rules._context import LintContext, TextEdit
from recipekit.plan import selectors as param_match
from recipekit.source import Source, Span


def line_span(source: Source, span: Span) -> Span:
    """The whole line(s) holding ``span``, newline included: what deleting a key removes."""
    start = source.text.rfind("\n", 0, span.start) + 1
    end = source.text.find("\n", span.end)
    return Span(start, len(source.text) if end < 0 else end + 1)


def delete_key(source: Source, key: Span, value: Span) -> tuple[TextEdit, ...] | None:
    """An edit deleting a `key: value` line, or None when other content shares the line."""
    whole = line_span(source, Span(key.start, value.end))
    stripped = source.text[whole.start : whole.end].strip()
    own = source.text[key.start : value.end]
    rest = stripped[len(own) :].strip()
    # Only a line that holds nothing but this key (and perhaps a comment) can go.
    if not stripped.startswith(own) or (rest and not rest.startswith("#")):
        return None
    return (TextEdit(whole, ""),)


def folded_batchnorm_weights(ctx: LintContext) -> dict[str, str]:
    """``{BatchNorm weight: the Conv2d module it folds into}`` when the recipe quantizes and a manifest is given.

    The pairs are SparseML's (a Conv2d directly followed by a BatchNorm2d in the same parent), read
    from the manifest's parameter owners in model order.
    """
    if ctx.params is None or not ctx.of_type("QuantizationModifier"):
        return {}
    owners: dict[str, str] = {}
    for param in ctx.params:
        owner = param["name"].rpartition(".")[0]
        kind = param.get("module_type")
        owners.setdefault(owner, kind if isinstance(kind, str) else "")
    pairs = param_match.conv_bn_pairs(list(owners.items()))
    return {f"{bn}.weight": conv for conv, bn in pairs.items()}


def exact_text(value: float, expression: str | None, passes: Callable[[float], bool]) -> str:
    """How a recipe writes ``value`` so that the rule that suggested it passes: a short decimal when one is
    exact enough, else ``eval(expression)`` (evaluated as SparseML does, to the same float), else the float's repr."""
    short = f"{value:.6g}"
    if passes(float(short)):
        return short
    if expression is not None and passes(value):
        return f"eval({expression})"
    return repr(value)


def number_text(value: float) -> str:
    """A number as an expression operand: 3 rather than 3.0, the repr otherwise."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))
