"""``QATMatMul``: ``torch.matmul`` as a module, so QAT can fake-quantize both its inputs and its output.

SparseML 1.8's Hugging Face integration gave BERT's self-attention two of these children
(``attention_scores_matmul`` for Q·Kᵀ and ``context_layer_matmul`` for P·V,
``modifiers/quantization_legacy/modification/modification_objects.py``) and its
QuantizationModifiers wrapped every module marked ``wrap_qat`` in a ``QATWrapper``: one input
quantizer per input (the left asymmetric, the right symmetric) and one (asymmetric) output
quantizer. The class keeps SparseML's name and attributes, so a recipe's ``ignore: [QATMatMul]``
or ``scheme_overrides: {QATMatMul: ...}`` matches it as it did; it has no parameters, so adding
or removing one leaves a state_dict's keys as they were.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


class QATMatMul(nn.Module):
    """``torch.matmul(a, b)``; the QAT runtime fake-quantizes ``a``, ``b`` and the product (runtime/qat.py)."""

    def __init__(self) -> None:
        super().__init__()
        # SparseML's markers, read by its modifiers (and by recipekit's planner, the same way).
        self.wrap_qat = True
        self.qat_wrapper_kwargs: dict[str, Any] = {"num_inputs": 2, "input_qconfigs": ["asymmetric", "symmetric"]}

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.matmul(a, b)
