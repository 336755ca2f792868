"""Modifier settings refused at compile time (C415), never a crash mid-training (crash checks shared with lint live in refusals.py).

Two kinds, both reported as C415 at the setting's position:

- settings SparseML 1.8 itself rejected at load or crashed on during training (OBS with an N:M
  mask, M-FAC with a ``damp`` that YAML 1.1 reads as a string);
- settings SparseML ran but this runtime cannot execute yet (StructuredPruningModifier's filter
  and channel masks). :func:`not_executable_yet` is the one predicate to relax when the runtime
  implements them (the algorithms issue).
"""

from __future__ import annotations

import re

from recipekit.ir import Modifier

_NM = re.compile(r"^\d+:\d+$")


def sparseml_refused(modifier: Modifier) -> tuple[str, str] | None:
    """``(param, message)`` when SparseML 1.8 rejected this setting at load or crashed on it in training."""
    mask_type = modifier.params["mask_type"].value if "mask_type" in modifier.params else None
    if modifier.type == "OBSPruningModifier" and isinstance(mask_type, str) and (mask_type == "tensorrt" or _NM.match(mask_type)):
        return "mask_type", f"OBSPruningModifier supports only unstructured and block4 masks; SparseML rejects {mask_type!r} at load"
    damp = modifier.params.get("damp")
    if modifier.type == "MFACPruningModifier" and damp is not None and damp.coerced_from is not None:
        message = (
            f"damp: {damp.coerced_from} is a string under YAML 1.1 and M-FAC does not convert it: SparseML fails at the "
            f"first pruning step ('float' / 'str'). Write it with a decimal point, e.g. {float(damp.value):.1e}"
        )
        return "damp", message
    return None


def not_executable_yet(modifier: Modifier) -> tuple[str, str] | None:
    """``(param, message)`` for a setting SparseML ran that the recipekit runtime cannot execute yet."""
    mask_type = modifier.params["mask_type"].value if "mask_type" in modifier.params else None
    if modifier.type == "StructuredPruningModifier" and mask_type in ("filter", "channel"):
        message = (
            f"StructuredPruningModifier with mask_type {mask_type!r} prunes whole {mask_type}s by their L2 norm; "
            "the recipekit runtime does not execute it yet, so the recipe is refused rather than failing at the first mask update"
        )
        return "mask_type", message
    return None


def refusal(modifier: Modifier) -> tuple[str, str] | None:
    return sparseml_refused(modifier) or not_executable_yet(modifier)
