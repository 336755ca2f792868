"""Parameter selectors, matched as SparseML matched them (standard library only).

Exact names are compared exactly; ``re:`` patterns use ``re.match`` (anchored
at the start, not a full match); ``__ALL__`` is every parameter and
``__ALL_PRUNABLE__`` the weights of Linear, Conv and Embedding layers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from itertools import pairwise
from typing import Any

PRUNABLE_MODULE_TYPES = frozenset(
    {
        "Linear",
        "Conv1d",
        "Conv2d",
        "Conv3d",
        "ConvTranspose1d",
        "ConvTranspose2d",
        "ConvTranspose3d",
        "Embedding",
        "Conv1D",
        "QATLinear",
        "QATConv2d",
        "QATConv3d",
    }
)


def is_prunable(param: dict[str, Any]) -> bool:
    return param["name"].endswith(".weight") and param.get("module_type") in PRUNABLE_MODULE_TYPES


def match_pattern(pattern: str, params: list[dict[str, Any]]) -> list[str]:
    if pattern.upper() == "__ALL__":
        return [p["name"] for p in params]
    if pattern.upper() == "__ALL_PRUNABLE__":
        return [p["name"] for p in params if is_prunable(p)]
    if pattern.startswith("re:"):
        try:
            regex = re.compile(pattern[3:])
        except re.error:
            return []  # reported where it is written (S-schema / invalid-regex lint rule), matches nothing here
        return [p["name"] for p in params if regex.match(p["name"])]
    return [p["name"] for p in params if p["name"] == pattern]


def resolve(patterns: Iterable[str], params: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """Names matched by any pattern (in model order), and the patterns that matched nothing."""
    matched: set[str] = set()
    unmatched: list[str] = []
    for pattern in patterns:
        names = match_pattern(pattern, params)
        if not names:
            unmatched.append(pattern)
        matched.update(names)
    return [p["name"] for p in params if p["name"] in matched], unmatched


def conv_bn_pairs(modules: Sequence[tuple[str, str]]) -> dict[str, str]:
    """Conv2d -> BatchNorm2d pairs as SparseML's fuse_module_conv_bn_relus fused them.

    ``modules`` are (name, kind) in model order; a pair is a "Conv2d" directly followed by a
    "BatchNorm2d" with the same parent module. Returns {conv name: batchnorm name}.
    """
    return {
        name: next_name
        for (name, kind), (next_name, next_kind) in pairwise(modules)
        if kind == "Conv2d" and next_kind == "BatchNorm2d" and name.rpartition(".")[0] == next_name.rpartition(".")[0]
    }


#: Prefixes a wrapper or a framework puts in front of parameter names (DDP, Lightning and HF `model.`,
#: torch.compile, detection backbones): a name that differs by one of them is the commonest mismatch.
KNOWN_PREFIXES = ("module.", "model.", "backbone.", "_orig_mod.")


def unmatched_hint(pattern: str, names: Sequence[str]) -> str:
    """Why ``pattern`` matches none of ``names``, and what would: ``"; ..."``, or an empty string.

    One wording for `recipe-lint` (L320), `recipekit expand` and `attach`: a known prefix that would
    make it match (added or dropped), else the closest parameter names.
    """
    if _TOKEN_PATTERN.match(pattern):
        return ""
    if pattern.startswith("re:"):
        return _regex_hint(pattern[3:], names)
    for prefix in KNOWN_PREFIXES:
        if prefix + pattern in names:
            return f"; the model's name is {prefix + pattern!r}: add the {prefix!r} prefix"
        if pattern.startswith(prefix) and pattern[len(prefix) :] in names:
            return f"; the model's name is {pattern[len(prefix) :]!r}: drop the {prefix!r} prefix"
    close = _closest(pattern, names)
    if not close:
        return ""
    others = f" (or {', '.join(repr(c) for c in close[1:])})" if len(close) > 1 else ""
    return f"; did you mean {close[0]!r}{others}?"


def _closest(pattern: str, names: Sequence[str]) -> list[str]:
    import difflib  # only when a name matched nothing

    # Compared without a known prefix on either side, so `features.0.weigth` finds `model.features.0.weight`.
    bare: dict[str, str] = {}
    for name in names:
        stripped = name
        for prefix in KNOWN_PREFIXES:
            stripped = stripped.removeprefix(prefix)
        bare.setdefault(stripped, name)
    target = pattern
    for prefix in KNOWN_PREFIXES:
        target = target.removeprefix(prefix)
    return [bare[m] for m in difflib.get_close_matches(target, list(bare), n=3, cutoff=0.75)]


def _regex_hint(regex: str, names: Sequence[str]) -> str:
    try:
        compiled = re.compile(regex)
    except re.error:
        return ""
    for prefix in KNOWN_PREFIXES:
        if any(n.startswith(prefix) and compiled.match(n[len(prefix) :]) for n in names):
            return f"; the model's names start with {prefix!r}: write 're:{re.escape(prefix)}{regex}'"
    if any(compiled.search(n) for n in names):
        return f"; `re:` matches at the start of names, write 're:.*{regex}' to search"
    return ""


_TOKEN_PATTERN = re.compile(r"^__\w+__$")
