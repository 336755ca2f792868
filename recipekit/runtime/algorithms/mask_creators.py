"""Masks from scores exactly as SparseML 1.8's mask creators choose them, ties included.

``runtime/masks.py`` picks the lowest scores with ``topk``, which agrees with SparseML
except where scores tie. The algorithms whose scores tie by construction (OBS's
``-inf`` for pruned weights, movement scores of zero, groups of equal norm) need
SparseML's exact rule (reference: sparseml-algorithms.md §0):

- ``k = round(n * s)`` elements are masked; the threshold is the k-th smallest score;
- above the minimum, ``score > threshold`` is kept and the *first* tied elements in
  row-major order are flipped back to kept until exactly k are masked;
- at the minimum, the tied minima are shuffled with ``random.Random(42)`` and the first
  k of them are masked.

Masks are float tensors in the scores' dtype (1 = keep), as SparseML's are.
"""

from __future__ import annotations

import random

import torch


def _one(scores: torch.Tensor, sparsity: float) -> torch.Tensor:
    flat = scores.reshape(-1)
    n = flat.numel()
    if n < 1 or sparsity <= 0.0 or sparsity > 1.0:
        return torch.ones_like(scores)
    count = round(n * sparsity)
    index = min(max(round(sparsity * n) - 1, 0), n)
    threshold = torch.kthvalue(flat, index + 1)[0]
    minimum = flat.min().item()
    if threshold.item() > minimum:
        keep = flat > threshold
        over = (n - int(keep.sum().item())) - count
        if over > 0:
            # Every tied element is masked; un-mask the first ones in row-major order.
            tied = torch.nonzero(flat == threshold).flatten()[:over]
            keep[tied] = True
        return keep.to(scores.dtype).view(scores.shape)
    minima = torch.nonzero(flat == minimum).flatten()
    order = list(range(minima.numel()))
    random.Random(42).shuffle(order)
    mask = torch.ones_like(flat)
    mask[minima[torch.tensor(order[:count], dtype=torch.int64)]] = 0
    return mask.view(scores.shape)


def unstructured(scores: list[torch.Tensor], sparsity: list[float], global_sparsity: bool) -> list[torch.Tensor]:
    """SparseML's ``UnstructuredPruningMaskCreator``: per tensor, or one threshold over all."""
    if not global_sparsity:
        return [_one(s, t) for s, t in zip(scores, sparsity, strict=True)]
    if any(t != sparsity[0] for t in sparsity):
        raise ValueError(f"global sparsity needs one target for every tensor, got {sparsity}")
    flat = torch.cat([s.reshape(-1) for s in scores])
    mask = _one(flat, sparsity[0])
    return [part.reshape(s.shape) for part, s in zip(torch.split(mask, [s.numel() for s in scores]), scores, strict=True)]


def four_block_group(scores: torch.Tensor) -> torch.Tensor:
    """Mean of 4 consecutive scores along dim 1 (moved last); a remainder is padded with its own mean."""
    if scores.dim() > 2:
        order = [d for d in range(scores.dim()) if d != 1] + [1]
        scores = scores.permute(*order)
    remainder = scores.size(-1) % 4
    if remainder:
        pad = 4 - remainder
        padded = torch.zeros(*scores.shape[:-1], scores.size(-1) + pad, dtype=scores.dtype, device=scores.device)
        padded[..., :-pad] = scores
        padded[..., -pad:] = torch.mean(scores[..., -remainder:], dim=-1, keepdim=True)
        scores = padded
    return torch.mean(scores.reshape(-1, 4), dim=1, keepdim=True)


def four_block_expand(grouped: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    mask = grouped.expand(-1, 4).contiguous()
    moved = list(shape)
    if len(moved) > 2:
        moved.append(moved.pop(1))
    remainder = moved[-1] % 4
    if remainder:
        moved[-1] += 4 - remainder
    mask = mask.reshape(moved)
    if remainder:
        mask = mask[..., : -(4 - remainder)]
    if len(moved) > 2:
        order = list(range(len(moved) - 1))
        order.insert(1, len(moved) - 1)
        mask = mask.permute(*order)
    return mask


def four_block(scores: list[torch.Tensor], sparsity: list[float], global_sparsity: bool) -> list[torch.Tensor]:
    """SparseML's ``FourBlockMaskCreator`` (mean grouping)."""
    grouped = unstructured([four_block_group(s) for s in scores], sparsity, global_sparsity)
    return [four_block_expand(g, s.shape) for g, s in zip(grouped, scores, strict=True)]


def mask_difference(old: torch.Tensor, new: torch.Tensor) -> torch.Tensor:
    """True where the mask went from keep to prune at this update (SparseML's ``mask_diff == -1``)."""
    return (old != 0) & (new == 0)
