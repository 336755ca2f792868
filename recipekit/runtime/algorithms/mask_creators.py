"""Float masks for the scoring algorithms (OBS, movement, group norms), from ``runtime/masks.py``'s rule.

SparseML's mask creators, ties included, are implemented once, in ``runtime/masks.py``
(reference: sparseml-algorithms.md §0); the scorers want float masks in the scores'
dtype (1 = keep), as SparseML's are, and the set of weights each update newly prunes.
"""

from __future__ import annotations

import torch

from recipekit.runtime import masks


def unstructured(scores: list[torch.Tensor], sparsity: list[float], global_sparsity: bool) -> list[torch.Tensor]:
    """SparseML's ``UnstructuredPruningMaskCreator``: per tensor, or one threshold over all."""
    keeps = masks.from_scores(scores, sparsity, "unstructured", global_sparsity)
    return [keep.to(s.dtype) for keep, s in zip(keeps, scores, strict=True)]


def four_block(scores: list[torch.Tensor], sparsity: list[float], global_sparsity: bool) -> list[torch.Tensor]:
    """SparseML's ``FourBlockMaskCreator`` (groups of 4 along dim 1 scored by their mean)."""
    keeps = masks.from_scores(scores, sparsity, "block4", global_sparsity)
    return [keep.to(s.dtype) for keep, s in zip(keeps, scores, strict=True)]


def mask_difference(old: torch.Tensor, new: torch.Tensor) -> torch.Tensor:
    """True where the mask went from keep to prune at this update (SparseML's ``mask_diff == -1``)."""
    return (old != 0) & (new == 0)
