"""SparseML 1.8's StructuredPruningModifier masks (reference §5).

Each tensor is scored by the L2 norm of its filters (dim 0) or channels (dim 1) of
|W|; members of a ``param_groups`` group all get the sum of the members' norm
vectors (a member with a multiple of the smallest count is averaged in runs of
``stride`` first; a depthwise conv is left out and keeps everything), then the
unstructured rule picks ``round(groups x sparsity)`` filters or channels per tensor.
"""

from __future__ import annotations

import torch

from recipekit.runtime.algorithms import mask_creators


def _group(tensor: torch.Tensor, dims: list[int]) -> torch.Tensor:
    reduced = [d for d in range(tensor.dim()) if d not in dims]
    norms: torch.Tensor = torch.linalg.vector_norm(tensor, dim=reduced, keepdim=True)
    return norms.type(tensor.type())


def masks(weights: list[torch.Tensor], sparsity: list[float], structure: str, groups: list[list[int]]) -> list[torch.Tensor]:
    """Keep-masks (float, 1 = keep) for ``weights``; ``groups`` are index lists covering every tensor once."""
    dims = [1] if structure == "channel" else [0]
    grouped = [_group(w.abs(), dims) for w in weights]
    strides: dict[int, int] = {}
    for group in groups:
        members = [i for i in group if not all(grouped[i].size(d) == 1 for d in dims)]  # depthwise: left out
        if not members:
            continue
        counts = [grouped[i].numel() for i in members]
        base = min(counts)
        for i, count in zip(members, counts, strict=True):
            if count == base:
                continue
            if count % base:
                raise ValueError(f"param group members need filter/channel counts divisible by {base}, one has {count}")
            stride = count // base
            reduced = torch.zeros([d // stride if d != 1 else 1 for d in grouped[i].shape], dtype=grouped[i].dtype)
            reduced.reshape(-1).copy_(grouped[i].reshape(-1, stride).mean(dim=1).reshape(-1))
            grouped[i] = reduced
            strides[i] = stride
        total = torch.sum(torch.stack([grouped[i].reshape(-1) for i in members]), dim=0)
        for i in members:
            grouped[i].view(-1).copy_(total)
    chosen = mask_creators.unstructured(grouped, sparsity, False)
    result = []
    for i, (chosen_mask, weight) in enumerate(zip(chosen, weights, strict=True)):
        mask = chosen_mask
        if all(mask.size(d) == 1 for d in dims):
            result.append(torch.ones(weight.shape, dtype=mask.dtype))
            continue
        # SparseML skips the un-striding for the first tensor (``if tensor_idx and ...``): kept.
        if i and i in strides:
            stride = strides[i]
            wide = torch.zeros([d * stride if d != 1 else 1 for d in mask.shape], dtype=mask.dtype)
            wide.reshape(-1).copy_(mask.reshape(-1, 1).expand(-1, stride).reshape(-1))
            mask = wide
        result.append(mask.expand(weight.shape).contiguous())
    return result
