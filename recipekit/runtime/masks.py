"""Pruning masks from magnitude scores, as SparseML's mask creators make them.

A mask is a bool tensor shaped like its parameter (True = keep). Unstructured
masks remove exactly ``round(numel x sparsity)`` weights (Python's round: half
to even, as SparseML); block and N:M masks remove whole groups.
"""

from __future__ import annotations

import re

import torch

_NM = re.compile(r"^(\d+):(\d+)$")


def _lowest(scores: torch.Tensor, count: int) -> torch.Tensor:
    """A keep-mask that drops exactly the ``count`` lowest scores.

    ``topk`` finds them without a full sort (several times faster on large tensors, where
    SparseML's sorted threshold dominated its mask-update steps).
    """
    keep = torch.ones(scores.numel(), dtype=torch.bool, device=scores.device)
    if count > 0:
        dropped = torch.topk(scores.flatten(), count, largest=False, sorted=False).indices
        keep[dropped] = False
    return keep.view(scores.shape)


def _select(scores: list[torch.Tensor], sparsity: float, global_sparsity: bool) -> list[torch.Tensor]:
    """Keep-masks over score tensors: per tensor, or with one threshold across all of them."""
    if not global_sparsity:
        return [_lowest(s, round(s.numel() * sparsity)) for s in scores]
    # One threshold across every selected tensor: the global count is exact, the split is not.
    flat = torch.cat([s.flatten() for s in scores])
    keep = _lowest(flat, round(flat.numel() * sparsity))
    parts = torch.split(keep, [s.numel() for s in scores])
    return [part.view(s.shape) for part, s in zip(parts, scores, strict=True)]


def _block_scores(weight: torch.Tensor, rows: int, cols: int) -> tuple[torch.Tensor, int, int]:
    """Mean |w| of rows x cols blocks over dims (0, 1); -1 means the whole dimension.

    A conv kernel position is its own block (SparseML pads the block shape to [rows, cols, 1, ..., 1]).
    """
    magnitude = weight.detach().abs()
    r = magnitude.shape[0] if rows == -1 else rows
    c = magnitude.shape[1] if cols == -1 else cols
    if magnitude.shape[0] % r or magnitude.shape[1] % c:
        raise ValueError(f"block shape [{rows}, {cols}] does not divide a tensor of shape {list(weight.shape)}")
    blocked = magnitude.reshape(magnitude.shape[0] // r, r, magnitude.shape[1] // c, c, *magnitude.shape[2:])
    return blocked.mean(dim=(1, 3)), r, c


def _expand_block(keep: torch.Tensor, r: int, c: int) -> torch.Tensor:
    return keep.repeat_interleave(r, dim=0).repeat_interleave(c, dim=1).contiguous()


def _four_block_scores(weight: torch.Tensor) -> torch.Tensor:
    """Groups of 4 along the input dimension (dim 1, padded), scored by their mean |w|."""
    moved = weight.detach().abs().movedim(1, -1)
    padded = torch.nn.functional.pad(moved, (0, (-moved.shape[-1]) % 4))
    return padded.reshape(*padded.shape[:-1], -1, 4).mean(dim=-1)


def _expand_four_block(keep: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    return keep.repeat_interleave(4, dim=-1)[..., : weight.shape[1]].movedim(-1, 1).contiguous()


def n_of_m(weight: torch.Tensor, n: int, m: int) -> torch.Tensor:
    """Keep the n largest of every m consecutive weights along the input dimension."""
    moved = weight.detach().abs().movedim(1, -1)
    if moved.shape[-1] % m:
        raise ValueError(f"an {n}:{m} mask needs the input dimension ({moved.shape[-1]}) to be a multiple of {m}")
    groups = moved.reshape(*moved.shape[:-1], -1, m)
    order = torch.argsort(groups, dim=-1, descending=True, stable=True)
    keep = torch.zeros_like(groups, dtype=torch.bool).scatter_(-1, order[..., :n], True)
    return keep.reshape(moved.shape).movedim(-1, 1).contiguous()


def create(tensors: list[torch.Tensor], sparsity: float, mask_type: str | list[int], global_sparsity: bool) -> list[torch.Tensor]:
    if sparsity <= 0:
        return [torch.ones_like(t, dtype=torch.bool) for t in tensors]
    if mask_type == "unstructured":
        return _select([t.detach().abs() for t in tensors], sparsity, global_sparsity)
    if mask_type == "block4":
        keeps = _select([_four_block_scores(t) for t in tensors], sparsity, global_sparsity)
        return [_expand_four_block(keep, t) for keep, t in zip(keeps, tensors, strict=True)]
    if isinstance(mask_type, list):
        blocks = [_block_scores(t, mask_type[0], mask_type[1]) for t in tensors]
        keeps = _select([scores for scores, _, _ in blocks], sparsity, global_sparsity)
        return [_expand_block(keep, r, c) for keep, (_, r, c) in zip(keeps, blocks, strict=True)]
    match = _NM.match("2:4" if mask_type == "tensorrt" else mask_type)
    if match:
        return [n_of_m(t, int(match.group(1)), int(match.group(2))) for t in tensors]
    raise ValueError(f"unknown mask_type {mask_type!r}")
