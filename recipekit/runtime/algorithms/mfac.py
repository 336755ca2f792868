"""M-FAC (SparseML 1.8's MFACPruningModifier) on the CPU: the inverse empirical Fisher from m gradients, reference §3.

Two exact ports of SparseML's CPU paths, every operation in its order:

- :class:`SmallBlocks` (``FisherInverseFastSmallBlocks``): blocks of ``B`` consecutive
  entries of the concatenated unpruned vector (spanning parameters, the last one
  zero-padded), each ``H^-1_b = I/damp`` updated by one Sherman-Morrison step per gradient;
- :class:`Fast` (``FisherInverseFast``, ``fisher_block_size: null`` with
  ``available_devices: []``): the unblocked Woodbury form, O(m d) memory.

SparseML updated a block row by row (``for r in range(B)``); each row's update is an
elementwise product and subtraction with one rounding each, so updating whole blocks in
one broadcast gives the same bits in fewer kernel calls (``bench/mfac_update.py``).
The gradient buffer (:class:`Ring`), the scores and the compensating update are
SparseML's too: ``tests/test_mfac.py`` replays SparseML-written fixtures bit for bit.
"""

from __future__ import annotations

import math

import torch

#: Bytes of Fisher blocks :class:`SmallBlocks` updates per kernel call (the temporary's size: cache-sized).
CHUNK_BYTES = 1 << 20


class SmallBlocks:
    def __init__(self, grads: torch.Tensor, block: int, damp: float) -> None:
        samples, self.numel = grads.shape
        self.block = block
        self.blocks = math.ceil(self.numel / block)
        base = torch.diag(torch.full([block], 1.0 / damp, dtype=grads.dtype, device=grads.device))
        self.hinv = torch.repeat_interleave(base.unsqueeze(0), self.blocks, 0)
        per_call = max(1, CHUNK_BYTES // (block * block * self.hinv.element_size()))
        for row in range(samples):
            g = self._pad(grads[row, :]).reshape(-1, block)
            hinv_g = torch.bmm(self.hinv, g.unsqueeze(2))
            denom = (samples + torch.bmm(g.unsqueeze(1), hinv_g)).squeeze(2)
            hinv_g = hinv_g.reshape(-1, block)
            scale = (hinv_g / denom).unsqueeze(2)
            # Row r of every block: hinv[:, r, :] -= hinv_g * (hinv_g[:, r] / denom); whole blocks at a
            # time, a cache-sized group per kernel call (SparseML: one row of every block per call).
            for b in range(0, self.blocks, per_call):
                self.hinv[b : b + per_call] -= hinv_g[b : b + per_call].unsqueeze(1) * scale[b : b + per_call]

    def _pad(self, x: torch.Tensor) -> torch.Tensor:
        short = self.blocks * self.block - x.numel()
        return x if short == 0 else torch.cat([x, torch.zeros(short, dtype=x.dtype, device=x.device)])

    def diag(self) -> torch.Tensor:
        return torch.diagonal(self.hinv, dim1=1, dim2=2).reshape(-1)[: self.numel]

    def mul(self, x: torch.Tensor) -> torch.Tensor:
        padded = torch.zeros(self.blocks * self.block, dtype=self.hinv.dtype, device=self.hinv.device)
        padded[: x.size(0)] = x
        return torch.bmm(self.hinv, padded.reshape(-1, self.block).unsqueeze(2)).reshape(-1)[: self.numel]


class Fast:
    """Overwrites ``grads`` in place with ``H^-1 g_i`` (as SparseML's does)."""

    def __init__(self, grads: torch.Tensor, damp: float) -> None:
        self.samples, self.numel = grads.shape
        self.damp = 1.0 / damp
        self.hinv_g = grads
        self.denom = torch.zeros(self.samples, dtype=grads.dtype, device=grads.device)
        sample = grads[0, :].clone()
        self.hinv_g[0, :] = self.damp * sample
        self.denom[0] = self.samples + sample.dot(self.hinv_g[0, :])
        for i in range(1, self.samples):
            sample = grads[i, :].clone()
            self.hinv_g[i, :] = self.damp * sample
            mul = self.hinv_g[:i, :].matmul(sample) / self.denom[:i]
            self.hinv_g[i, :] -= mul.matmul(self.hinv_g[:i, :])
            self.denom[i] = self.samples + sample.dot(self.hinv_g[i, :])

    def diag(self) -> torch.Tensor:
        result = self.damp * torch.ones(self.numel, dtype=self.hinv_g.dtype, device=self.hinv_g.device)
        for i in range(self.samples):
            result -= (self.hinv_g[i, :] ** 2) / self.denom[i]
        return result

    def mul(self, x: torch.Tensor) -> torch.Tensor:
        result = self.damp * x
        mul = self.hinv_g.matmul(x) / self.denom
        result -= mul.matmul(self.hinv_g)
        return result


def num_grads_for(num_grads: int | dict[str, int], sparsity: float) -> int:
    """SparseML's ``_get_num_grads_for_sparsity``: the first threshold >= sparsity, clamped to the last."""
    if isinstance(num_grads, int):
        return num_grads
    thresholds = sorted(num_grads, key=float)
    index = 0
    while index < len(thresholds) and float(thresholds[index]) < sparsity:
        index += 1
    return num_grads[thresholds[min(index, len(thresholds) - 1)]]


def inverse(grads: torch.Tensor, block: int | None, damp: float) -> SmallBlocks | Fast:
    """SparseML's CPU choice: SmallBlocks when ``fisher_block_size`` is truthy, else Fast (``available_devices: []``)."""
    return SmallBlocks(grads, block, damp) if block else Fast(grads, damp)


class Ring:
    """SparseML's gradient buffer: ``rows`` gradients of the unpruned entries, row ``count mod rows`` written next.

    The unpruned entries are fixed when the buffer is made (after each mask update): each
    parameter's ``mask.nonzero()`` in row-major order, parameters concatenated in model order.
    """

    def __init__(self, masks: list[torch.Tensor], rows: int) -> None:
        self.indices = [mask.reshape(-1).nonzero(as_tuple=False).reshape(-1) for mask in masks]
        self.buffer = torch.zeros((rows, sum(int(i.numel()) for i in self.indices)))
        self.row = 0
        self.collected = 0

    def add(self, grads: list[torch.Tensor]) -> None:
        unpruned = [grad.reshape(-1)[index].to(self.buffer.device) for grad, index in zip(grads, self.indices, strict=True)]
        torch.cat(unpruned, out=self.buffer[self.row, :])
        self.row = (self.row + 1) % self.buffer.size(0)
        self.collected += 1

    def state_dict(self) -> dict[str, object]:
        return {"indices": self.indices, "buffer": self.buffer, "row": self.row, "collected": self.collected}

    def load_state_dict(self, state: dict[str, object]) -> None:
        self.indices = list(state["indices"])  # type: ignore[call-overload]
        self.buffer = state["buffer"]  # type: ignore[assignment]
        self.row = int(state["row"])  # type: ignore[call-overload]
        self.collected = int(state["collected"])  # type: ignore[call-overload]


def scores(params: list[torch.Tensor], ring: Ring, finv: SmallBlocks | Fast) -> tuple[list[torch.Tensor], torch.Tensor]:
    """``w**2 / (2 diag H^-1)`` over the unpruned weights (no eps), ``min - 1`` elsewhere; and the diagonal."""
    # On the buffer's device (the CPU, as SparseML's buffer always was); scores go back to each tensor's.
    weights = torch.cat([p.reshape(-1)[index].to(ring.buffer.device) for p, index in zip(params, ring.indices, strict=True)])
    diag = finv.diag()
    flat = (weights**2) / (2.0 * diag)
    minimum = flat.min().item() - 1  # a Python float, stored in float32: not -inf
    result, offset = [], 0
    for param, index in zip(params, ring.indices, strict=True):
        score = torch.ones_like(param, device=ring.buffer.device)
        score *= minimum
        score.view(-1)[index] = flat[offset : offset + index.numel()]
        offset += index.numel()
        result.append(score.to(param.device))
    return result, diag


def compensate(
    params: list[torch.Tensor], newly_pruned: list[torch.Tensor], ring: Ring, finv: SmallBlocks | Fast, diag: torch.Tensor
) -> None:
    """Add ``H^-1 (-(w * newly_pruned) / diag)`` at the unpruned entries (SparseML zeroes nothing here: the mask does)."""
    pruned = torch.cat(
        [
            (p.reshape(-1)[index] * new.reshape(-1)[index]).to(ring.buffer.device)
            for p, new, index in zip(params, newly_pruned, ring.indices, strict=True)
        ]
    )
    perturb = finv.mul(-1.0 * pruned / diag)
    offset = 0
    for param, index in zip(params, ring.indices, strict=True):
        param.view(-1)[index] += perturb[offset : offset + index.numel()].to(param.device)
        offset += index.numel()


def sparsity(masks: list[torch.Tensor]) -> float:
    """SparseML's ``tensor_list_sparsity``: zeros over elements, all masks together."""
    zeros = sum(int((m == 0).sum().item()) for m in masks)
    return float(zeros) / float(sum(m.numel() for m in masks))
