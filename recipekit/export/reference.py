"""The torch side of the export check: every activation quantizer's input and integers, as training computes them.

The check (check.py) feeds these integers to onnxruntime in place of its own QuantizeLinear outputs,
so that both sides run each stretch between two quantizers on the same integers, and compares
onnxruntime's integers with these. Imports torch only.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from recipekit.runtime.qat import FakeQuantizer


@dataclass(frozen=True)
class Recorded:
    """One call of a per-tensor activation fake-quantizer."""

    scale: np.float32
    zero_point: int
    signed: bool  # int8 (else uint8)
    #: What it quantized, in units of its step: ``x / scale`` (float64), for telling a rounding tie from an error.
    steps: np.ndarray[Any, Any]
    #: Its integers: ``round(x / scale) + zero_point``, clamped, as torch's fake quantization computed them.
    integers: np.ndarray[Any, Any]


@contextlib.contextmanager
def recording(weights: set[int]) -> Iterator[list[Recorded]]:
    """Record every call of a FakeQuantizer that is observed, per tensor, and not one of ``weights`` (their ids)."""
    calls: list[Recorded] = []
    original = FakeQuantizer.__call__

    def call(self: FakeQuantizer, x: torch.Tensor) -> torch.Tensor:
        out = original(self, x)
        if id(self) not in weights and self.min_val is not None and not self.args.per_channel:
            scale, zero_point = self.qparams()
            s = np.float32(scale.reshape(()).item())
            z = int(zero_point.reshape(()).item())
            # out = (q - z) * s in float32, so out / s is q - z up to a rounding far below 0.5.
            integers = (torch.round(out.detach().float() / float(s)) + z).to(torch.int32).numpy()
            steps = x.detach().double().numpy() / float(s)
            calls.append(Recorded(s, z, self.args.bounds[0] < 0, steps, integers))
        return out

    FakeQuantizer.__call__ = call  # type: ignore[method-assign]
    try:
        yield calls
    finally:
        FakeQuantizer.__call__ = original  # type: ignore[method-assign]
