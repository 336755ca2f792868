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
