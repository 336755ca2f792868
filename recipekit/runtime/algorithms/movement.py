"""SparseML 1.8's MovementPruningModifier scores (reference §4).

``S <- S + (-0.01 * grad * W)`` once per optimizer step from attach on (before
``start_epoch`` too), with the gradient as the loop left it (masked, clipped); a
parameter whose gradient is missing or holds a NaN is skipped that step. S is
never reset; the lowest signed scores are pruned, per tensor.
"""

from __future__ import annotations

import torch


def accumulate(score: torch.Tensor, weight: torch.Tensor) -> None:
    grad = weight.grad
    if grad is not None and not torch.any(grad.isnan()):
        score.add_(-0.01 * grad * weight.data)
