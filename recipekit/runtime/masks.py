"""Pruning masks from magnitude scores, made exactly as SparseML 1.8's mask creators made them.

A mask is a bool tensor shaped like its parameter (True = keep). Which elements are pruned is
SparseML's choice to the element, ties included (``pruning/mask_creator.py``; the algorithms
reference, section 0):

- ``k = round(n x sparsity)`` (Python's round, half to even); the threshold is the k-th smallest
  score. Above the minimum, every score <= threshold is pruned and then the *first* elements tied
  at the threshold, in row-major order, are kept again until exactly k are pruned. At the minimum
  (more tied minima, such as zeros, than k), the row-major indices of the minima are shuffled
  with ``random.Random(42)`` and the first k of them are pruned.
- Global sparsity runs the same rule once over all score tensors flattened and concatenated.
- ``block4`` scores groups of 4 along dim 1 (moved last for more than 2 dims), padding a
  remainder with the mean of the leftover scores; ``[r, c]`` blocks reshape the tensor to
  ``(r0*r1 // (r*c), r*c, -1)`` when ``c > 1``, which groups r*c *consecutive* row-major
  elements, not an r x c tile; a -1 takes its size from the first tensor; N:M ranks ``|w|``
  with ``argsort`` over consecutive groups of M and prunes the first M-N.

:func:`problem` says before training why SparseML could not have made a mask for a tensor
(SparseML raised mid-training, or made an N:M mask of the wrong shape for a conv).
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence

import torch

_NM = re.compile(r"^(\d+):(\d+)$")

MaskType = str | list[int]


def _nm(mask_type: MaskType) -> tuple[int, int] | None:
    if isinstance(mask_type, list):
        return None
    match = _NM.match("2:4" if mask_type == "tensorrt" else mask_type)
    return (int(match.group(1)), int(match.group(2))) if match else None


# -- the unstructured rule, over flat score vectors -----------------------------------------------
def _prune_lowest(flat: torch.Tensor, sparsity: float) -> torch.Tensor:
    """SparseML's UnstructuredPruningMaskCreator on one flat score vector: a keep-vector."""
    n = flat.numel()
    if n < 1 or sparsity <= 0.0 or sparsity > 1.0:
        return torch.ones(n, dtype=torch.bool, device=flat.device)
    count = round(n * sparsity)
    threshold = torch.kthvalue(flat, max(count, 1)).values  # the value sort()[count - 1] gives
    minimum = flat.min().item()
    if threshold.item() > minimum:
        keep = flat > threshold
        excess = n - int(keep.sum().item()) - count
        if excess > 0:
            # Every element tied at the threshold is pruned; the first ones are kept again.
            tied = torch.nonzero(flat == threshold).flatten()
            keep[tied[:excess]] = True
        return keep
    # More minima than to prune: SparseML picks among them with a fixed-seed shuffle.
    tied = torch.nonzero(flat == minimum).flatten()
    order = list(range(tied.numel()))
    random.Random(42).shuffle(order)
    keep = torch.ones(n, dtype=torch.bool, device=flat.device)
    keep[tied[torch.tensor(order[:count], dtype=torch.int64, device=flat.device)]] = False
    return keep


def _select(scores: list[torch.Tensor], targets: list[float], global_sparsity: bool) -> list[torch.Tensor]:
    """Keep-masks shaped like ``scores``: per tensor, or one threshold over all of them."""
    if not global_sparsity:
        return [_prune_lowest(s.reshape(-1), t).view(s.shape) for s, t in zip(scores, targets, strict=True)]
    if any(t != targets[0] for t in targets):
        raise ValueError(f"global sparsity needs one target for every tensor, got {targets}")
    keep = _prune_lowest(torch.cat([s.reshape(-1) for s in scores]), targets[0])
    parts = torch.split(keep, [s.numel() for s in scores])
    return [part.view(s.shape) for part, s in zip(parts, scores, strict=True)]


# -- block4 -----------------------------------------------------------------------------------------
def _dim1_last(t: torch.Tensor) -> torch.Tensor:
    if t.dim() <= 2:
        return t
    order = [d for d in range(t.dim()) if d != 1] + [1]
    return t.permute(*order)


def _four_block_scores(scores: torch.Tensor) -> torch.Tensor:
    """FourBlockMaskCreator.group_tensor: means of 4 along dim 1; a remainder padded with its own mean."""
    moved = _dim1_last(scores)
    remainder = moved.size(-1) % 4
    if remainder:
        pad = 4 - remainder
        padded = torch.zeros(*moved.shape[:-1], moved.size(-1) + pad, dtype=moved.dtype, device=moved.device)
        padded[..., :-pad] = moved
        padded[..., -pad:] = torch.mean(moved[..., -remainder:], dim=-1, keepdim=True)
        moved = padded
    return torch.mean(moved.reshape(-1, 4), dim=1, keepdim=True)


def _expand_four_block(keep: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    moved_shape = list(shape)
    if len(moved_shape) > 2:
        moved_shape.append(moved_shape.pop(1))
    width = moved_shape[-1]
    moved_shape[-1] = width + (-width) % 4
    mask = keep.expand(-1, 4).reshape(moved_shape)[..., :width]
    if len(moved_shape) > 2:
        order = list(range(len(moved_shape) - 1))
        order.insert(1, len(moved_shape) - 1)
        mask = mask.permute(*order)
    return mask.contiguous()


# -- [rows, cols] blocks ------------------------------------------------------------------------------
def _block_shape(mask_type: list[int], first: Sequence[int]) -> list[int]:
    """The block shape SparseML uses: a -1 becomes the *first* tensor's size (it edits its list in place)."""
    return [first[i] if size == -1 else size for i, size in enumerate(mask_type)]


def _blocked_shape(shape: Sequence[int], block: list[int]) -> list[int]:
    if block[1] > 1:
        return [shape[0] * shape[1] // (block[0] * block[1]), block[0] * block[1], -1]
    return [shape[0] // block[0], block[0], -1]


def _block_problem(shape: Sequence[int], block: list[int]) -> str | None:
    if len(shape) < 2:
        return f"a [rows, cols] mask needs a tensor of 2 or more dimensions, not shape {list(shape)}"
    if shape[0] % block[0] or shape[1] % block[1]:
        return f"block shape {block} does not divide shape {list(shape)}"
    return None


# -- N:M ----------------------------------------------------------------------------------------------
def n_of_m(weight: torch.Tensor, n: int, m: int) -> torch.Tensor:
    """Keep n of every m consecutive elements of a Linear weight, as SparseML's NMPruningMaskCreator.

    Groups are m consecutive row-major elements (they span rows when the width is not a multiple
    of m); the m-n lowest of ``argsort(|w|)`` are pruned, so ties prune the earlier elements.
    """
    groups = weight.detach().abs().reshape(-1, m)
    pruned = torch.argsort(groups, dim=1)[:, : m - n]
    keep = torch.ones_like(groups, dtype=torch.bool).scatter_(1, pruned, False)
    return keep.reshape(weight.shape)


# -- entry points -------------------------------------------------------------------------------------
def problem(shapes: Sequence[Sequence[int]], mask_type: MaskType) -> str | None:
    """Why SparseML could not have made a usable ``mask_type`` mask for these tensors (one modifier's), or None."""
    if not shapes:
        return None
    nm = _nm(mask_type)
    if nm is not None:
        for shape in shapes:
            numel = 1
            for size in shape:
                numel *= size
            if len(shape) == 4:
                return (
                    f"an N:M mask on a convolution (shape {list(shape)}): SparseML 1.8 makes it in the wrong layout "
                    "(out, kh, kw, in), so it cannot be applied; use unstructured or block4 for convolutions"
                )
            if len(shape) != 2:
                return f"an N:M mask needs a 2-D (Linear) weight, not shape {list(shape)} (SparseML raises NotImplementedError)"
            if numel % nm[1]:
                return f"shape {list(shape)} cannot be split into groups of {nm[1]} (SparseML raises ValueError)"
        return None
    if isinstance(mask_type, list):
        block = _block_shape(mask_type, shapes[0])
        for shape in shapes:
            issue = _block_problem(shape, block)
            if issue:
                hint = " (a -1 takes its size from the first tensor)" if -1 in mask_type else ""
                return issue + hint
    return None


def from_scores(scores: list[torch.Tensor], targets: list[float], mask_type: MaskType, global_sparsity: bool) -> list[torch.Tensor]:
    """Keep-masks from any scores (|w|, OBS, movement, group norms) with SparseML's rule: ``unstructured`` or ``block4``."""
    if mask_type == "unstructured":
        return _select(scores, targets, global_sparsity)
    if mask_type == "block4":
        keeps = _select([_four_block_scores(s) for s in scores], targets, global_sparsity)
        return [_expand_four_block(keep, s.shape) for keep, s in zip(keeps, scores, strict=True)]
    raise ValueError(f"scores are masked unstructured or block4, not {mask_type!r}")


def create(tensors: list[torch.Tensor], sparsity: float | list[float], mask_type: MaskType, global_sparsity: bool) -> list[torch.Tensor]:
    """Keep-masks for ``tensors`` at ``sparsity`` (one target, or one per tensor), scored by ``|w|``."""
    targets = list(sparsity) if isinstance(sparsity, list) else [float(sparsity)] * len(tensors)
    scores = [t.detach().abs() for t in tensors]
    if mask_type in ("unstructured", "block4"):
        return from_scores(scores, targets, mask_type, global_sparsity)
    if isinstance(mask_type, list):
        block = _block_shape(mask_type, tensors[0].shape)
        shapes = [_blocked_shape(t.shape, block) for t in tensors]
        issue = next((_block_problem(t.shape, block) for t in tensors if _block_problem(t.shape, block)), None)
        if issue:
            raise ValueError(issue)
        grouped = [torch.mean(s.reshape(shape), dim=1, keepdim=True) for s, shape in zip(scores, shapes, strict=True)]
        keeps = _select(grouped, targets, global_sparsity)
        return [
            keep.reshape(g.shape[0], g.shape[2]).unsqueeze(1).expand(g.shape[0], shape[1], g.shape[2]).reshape(t.shape)
            for keep, g, shape, t in zip(keeps, grouped, shapes, tensors, strict=True)
        ]
    nm = _nm(mask_type)
    if nm is not None:
        if all(t == 0.0 for t in targets):
            return [torch.ones_like(t, dtype=torch.bool) for t in tensors]
        issue = problem([t.shape for t in tensors], mask_type)
        if issue:
            raise ValueError(issue)
        return [n_of_m(t, *nm) for t in tensors]
    raise ValueError(f"unknown mask_type {mask_type!r}")
