"""Optimal BERT Surgeon (SparseML 1.8's OBSPruningModifier), reference §2.

Per parameter, an empirical block Fisher inverse is built from ``m`` gradient
samples by rank-one (Sherman-Morrison) updates; weights are scored by
``w**2 / (2 diag F^-1 + eps)`` (unstructured) or ``w^T S^-1 w / 2`` over blocks of
4 (block4), and the pruned weights' removal is compensated with ``F^-1 v``. Every
operation is SparseML's, in its order: at ``damp`` 1e-7 an algebraically equal
reordering changes scores by ~1e-3 relative.
"""

from __future__ import annotations

import math

import torch

EPS = torch.finfo(torch.float32).eps


class BlockFisherInverse:
    """``(damp I + (1/m) sum g g^T)^-1`` restricted to blocks of ``block`` consecutive flat entries."""

    def __init__(self, num_grads: int, block: int, numel: int, damp: float, device: torch.device | str = "cpu") -> None:
        self.m = num_grads
        self.block = block
        self.numel = numel
        self.blocks = math.ceil(numel / block)
        # O(numel x block) memory: the price of the block approximation.
        self.f_inv = (1.0 / damp * torch.eye(n=block, device=device)).unsqueeze(0).repeat(self.blocks, 1, 1)

    def _padded(self, v: torch.Tensor) -> torch.Tensor:
        short = self.blocks * self.block - v.numel()
        if short > 0:
            v = torch.cat([v, torch.zeros(short, device=v.device)])
        return v.reshape(self.blocks, self.block)

    def add_grad(self, grad: torch.Tensor) -> None:
        g = self._padded(grad)
        finv_g = torch.einsum("bij,bj->bi", self.f_inv, g)
        alpha = (self.m + torch.einsum("bi,bi->b", g, finv_g)).sqrt().unsqueeze(1)
        finv_g /= alpha
        self.f_inv.baddbmm_(finv_g.unsqueeze(2), finv_g.unsqueeze(1), alpha=-1)

    def diag(self) -> torch.Tensor:
        return self.f_inv.diagonal(dim1=1, dim2=2).flatten()[: self.numel]

    def mul(self, v: torch.Tensor) -> torch.Tensor:
        return torch.bmm(self.f_inv, self._padded(v).unsqueeze(2)).flatten()[: self.numel]


def scores(
    weight: torch.Tensor, finv: BlockFisherInverse, mask: torch.Tensor | None, mask_type: str
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """OBS saliency of every element (``-inf`` where already pruned) and, for block4, the cached solve."""
    solved = None
    if mask_type == "unstructured":
        result = ((weight.reshape(-1) ** 2) / (2.0 * finv.diag() + EPS)).reshape(weight.shape)
    else:
        blocks = weight.reshape(-1, 4)
        size = finv.block
        sub = torch.cat([finv.f_inv[:, i : i + 4, i : i + 4] for i in range(0, size, 4)], dim=1)
        sub = sub.reshape((finv.numel // size, size // 4, 4, 4)).reshape((finv.numel // 4, 4, 4))
        solved = torch.linalg.solve(sub, blocks)
        score = 0.5 * torch.einsum("bi,bi->b", blocks, solved)
        result = score.unsqueeze(1).expand(-1, 4).reshape(weight.shape)
    if mask is not None:
        result[mask == 0] = float("-inf")  # what is pruned stays pruned
    return result, solved


def update(
    weight: torch.Tensor, finv: BlockFisherInverse, newly_pruned: torch.Tensor, mask_type: str, solved: torch.Tensor | None
) -> torch.Tensor:
    """The OBS correction ``delta`` (``w <- w - delta``), each pruned element's computed independently and summed."""
    if mask_type == "unstructured":
        v = (weight * newly_pruned).reshape(-1) / (finv.diag() + EPS)
    else:
        assert solved is not None
        v = solved.reshape(-1) * newly_pruned.reshape(-1)
    return finv.mul(v).reshape(weight.shape)


def apply_update(weight: torch.Tensor, delta: torch.Tensor, newly_pruned: torch.Tensor) -> None:
    weight -= delta
    weight[newly_pruned] = 0.0
