"""Quantizable attention matmuls, as SparseML 1.8's Hugging Face integration gave them to BERT.

SparseML's ``modify_model`` (``modifiers/quantization_legacy/modification/modify_model.py``) looked
the model's *class name* up in its ModificationRegistry and, for BERT, swapped every
``BertSelfAttention`` for ``BertSelfAttentionWithQuantizableMatmuls``: two ``QATMatMul`` children,
``attention_scores_matmul`` (Q·Kᵀ) and ``context_layer_matmul`` (P·V), that its QuantizationModifier
fake-quantized (both inputs and the output). Only the registered class names were modified:
``BertModel`` and ``BertForQuestionAnswering`` were, ``BertForSequenceClassification`` was not (its
attention trained in float). This module reproduces the BERT modification on transformers 5's
``BertSelfAttention`` and says what SparseML did for every other model.

The modification is per instance and reversible: each attention module gets the two children
(no parameters, so state_dict keys stay as they were) and an instance ``forward`` with SparseML's
arithmetic (scores divided by ``sqrt(head size)``, the mask added, softmax, the module's dropout);
:meth:`AttentionModification.remove` deletes both. The model's config is never written.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from recipekit.runtime.matmul import QATMatMul

#: SparseML 1.8's ModificationRegistry: the model class names it modified, and the family.
SPARSEML_MODIFIED = {
    "BertModel": "BERT",
    "BertForQuestionAnswering": "BERT",
    "DistilBertModel": "DistilBERT",
    "MobileBertModel": "MobileBERT",
    "OPTModel": "OPT",
    "OPTForCausalLM": "OPT",
    "LlamaModel": "Llama",
    "LlamaForCausalLM": "Llama",
    "MistralModel": "Mistral",
    "MistralForCausalLM": "Mistral",
}
#: The families recipekit modifies (the rest are reported, not simulated).
IMPLEMENTED = frozenset({"BERT"})
#: The attention class each family's modification replaced (by name: transformers is not imported here).
ATTENTION_CLASSES = {
    "BERT": "BertSelfAttention",
    "DistilBERT": "MultiHeadSelfAttention",
    "MobileBERT": "MobileBertSelfAttention",
    "OPT": "OPTAttention",
    "Llama": "LlamaAttention",
    "Mistral": "MistralAttention",
}


#: What SparseML's modification did to the families recipekit does not simulate.
_NOT_SIMULATED = {
    "MobileBERT": "replaced a MobileBertModel's embedding_transformation Linear with a QATLinear built afresh (the trained "
    "weights of that layer were not carried over; its keys became embedding_transformation.linear.*)",
    **{
        family: f"gave {family}'s attention QuantizableMatMul/QuantizableBatchMatmul modules whose BMMLeftInput_QK, "
        "BMMRightInput_QK, BMMOutput_QK, ..._PV children were quantized (recipe entries naming them match nothing here)"
        for family in ("OPT", "Llama", "Mistral")
    },
}


class AttentionError(ValueError):
    """The attention modification cannot be applied as SparseML applied it (message says what to do)."""


def _has_class(module: nn.Module, name: str, package: str) -> bool:
    """``isinstance`` by name: SparseML's ``isinstance(submodule, BertSelfAttention)`` without importing transformers."""
    return any(c.__name__ == name and c.__module__.startswith(package) for c in type(module).__mro__)


def families(model: nn.Module) -> list[str]:
    """The families whose attention classes occur in ``model`` (what SparseML could have modified)."""
    found = []
    for family, name in ATTENTION_CLASSES.items():
        if any(type(m).__name__ == name or _has_class(m, name, "transformers.") for m in model.modules()):
            found.append(family)
    return found


def _bert_attentions(model: nn.Module) -> list[tuple[str, nn.Module]]:
    return [(n, m) for n, m in model.named_modules() if _has_class(m, "BertSelfAttention", "transformers.models.bert.")]


def _check_transformers() -> None:
    version = str(getattr(sys.modules.get("transformers"), "__version__", "0"))
    if int(version.split(".", 1)[0] or 0) < 5:
        raise AttentionError(
            f"quantizable attention needs transformers 5's BertSelfAttention (installed: {version}); "
            "recipekit's transformers extra requires transformers>=5.24"
        )


class QuantizableBertAttention:
    """``BertSelfAttention.forward`` with SparseML 1.8's ``BertSelfAttentionWithQuantizableMatmuls`` arithmetic.

    Q·Kᵀ and P·V run through the module's ``QATMatMul`` children; the scores are *divided* by
    ``sqrt(attention_head_size)`` (SparseML's order of operations, not transformers 5's ``* scaling``),
    the additive mask is added, softmax, then the module's own Dropout, as SparseML's forward did.
    A module-level class (not a closure), so a modified model pickles.
    """

    def __init__(self, module: nn.Module) -> None:
        self.module = module

    def __call__(
        self, hidden_states: torch.Tensor, attention_mask: Any = None, cache: Any = None, **kwargs: Any
    ) -> tuple[torch.Tensor, torch.Tensor]:
        module: Any = self.module
        cache = kwargs.pop("past_key_values", cache)  # the name transformers deprecates
        if kwargs.get("head_mask") is not None or kwargs.get("encoder_hidden_states") is not None:
            raise AttentionError("the quantizable BERT attention takes neither head_mask nor encoder_hidden_states (self-attention only)")
        input_shape = hidden_states.shape[:-1]
        hidden_shape = (*input_shape, -1, module.attention_head_size)
        query = module.query(hidden_states).view(*hidden_shape).transpose(1, 2)
        key = module.key(hidden_states).view(*hidden_shape).transpose(1, 2)
        value = module.value(hidden_states).view(*hidden_shape).transpose(1, 2)
        if cache is not None:
            current = getattr(cache, "self_attention_cache", cache)
            key, value = current.update(key, value, module.layer_idx, kwargs=kwargs)
        scores = module.attention_scores_matmul(query, key.transpose(-1, -2))
        scores = scores / math.sqrt(module.attention_head_size)
        if attention_mask is not None:
            scores = scores + _additive(attention_mask, scores.dtype)
        probs = nn.functional.softmax(scores, dim=-1)
        probs = module.dropout(probs)
        context = module.context_layer_matmul(probs, value)
        context = context.permute(0, 2, 1, 3).contiguous()
        return context.reshape(*input_shape, -1).contiguous(), probs


def _additive(mask: Any, dtype: torch.dtype) -> torch.Tensor:
    """The mask as SparseML's BERT added it: 0 where attended, the dtype's minimum where masked."""
    if not isinstance(mask, torch.Tensor):
        raise AttentionError(
            f"the attention mask is a {type(mask).__name__}; the quantizable BERT attention adds a tensor mask "
            "(use attn_implementation 'eager' or 'sdpa')"
        )
    if mask.dtype == torch.bool:  # sdpa's mask: True where attended
        return torch.where(mask, torch.zeros((), dtype=dtype), torch.full((), torch.finfo(dtype).min, dtype=dtype))
    return mask


@dataclass
class AttentionModification:
    """The attention modules given quantizable matmuls; :meth:`remove` gives the model back as it was."""

    family: str
    modules: list[tuple[str, nn.Module]] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        """The QATMatMul modules' names (what a recipe's ignore/scheme_overrides entries match)."""
        return [f"{n}.{child}" if n else child for n, _ in self.modules for child in ("attention_scores_matmul", "context_layer_matmul")]

    def remove(self) -> None:
        for _, module in self.modules:
            if isinstance(module.__dict__.get("forward"), QuantizableBertAttention):
                del module.forward
            for child in ("attention_scores_matmul", "context_layer_matmul"):
                if isinstance(module._modules.get(child), QATMatMul):
                    del module._modules[child]
        self.modules = []


def modify_bert(model: nn.Module) -> AttentionModification:
    """Give every ``BertSelfAttention`` of ``model`` SparseML's quantizable matmuls (idempotent per module)."""
    _check_transformers()
    modification = AttentionModification("BERT")
    for name, module in _bert_attentions(model):
        if isinstance(module.__dict__.get("forward"), QuantizableBertAttention):
            continue  # modified already (by an earlier call): SparseML skipped those too
        clash = [c for c in ("attention_scores_matmul", "context_layer_matmul") if hasattr(module, c)]
        if clash:
            raise AttentionError(f"{name!r} already has an attribute {clash[0]!r}: it cannot be given SparseML's quantizable matmuls")
        module.add_module("attention_scores_matmul", QATMatMul())
        module.add_module("context_layer_matmul", QATMatMul())
        object.__setattr__(module, "forward", QuantizableBertAttention(module))
        modification.modules.append((name, module))
    return modification


def _stripped(model: nn.Module) -> nn.Module:
    """The model SparseML's Trainer saw: DDP's / accelerate's ``module`` wrapper removed."""
    inner = getattr(model, "module", None)
    return inner if isinstance(inner, nn.Module) and type(model).__name__ in ("DistributedDataParallel", "DataParallel") else model


def quantize_attention(model: nn.Module, wanted: bool | None) -> tuple[AttentionModification | None, str | None]:
    """Modify ``model``'s attention where SparseML's registry did (``wanted=None``), always (True) or never (False).

    Returns the modification (None when nothing was modified) and a warning to show, or None when
    recipekit did exactly what SparseML did with nothing surprising about it. Raises AttentionError
    where SparseML crashed (DistilBERT) unless ``wanted`` is False.
    """
    model = _stripped(model)
    kind = type(model).__name__
    registered = SPARSEML_MODIFIED.get(kind)
    present = families(model)
    if wanted is False:
        if registered is None:
            return None, None
        return None, (
            f"quantize_attention=False: the attention of {kind} trains in float, although SparseML's modify_model "
            f"gave it quantizable matmuls ({registered}); recipes that ignore QATMatMul or BMM*_QK/PV types may then name no module"
        )
    if registered == "DistilBERT":
        raise AttentionError(
            f"SparseML 1.8's DistilBERT modification (registered for {kind}) assigned the class QATMatMul instead of an instance, "
            "so the modified model crashed at its first forward (TypeError); pass quantize_attention=False to train with float "
            "attention as an unmodified model"
        )
    family = registered if wanted is None else ("BERT" if "BERT" in present else registered)
    if wanted and family != "BERT":
        return None, f"quantize_attention=True, but {kind} has no BertSelfAttention: recipekit quantizes only BERT's attention matmuls"
    if family is None:
        if "BERT" in present:
            return None, (
                f"the attention of {kind} trains in float, as under SparseML 1.8: its modify_model looked the model's class name "
                f"up in a registry that holds {', '.join(k for k, f in SPARSEML_MODIFIED.items() if f == 'BERT')} for BERT, not "
                f"{kind}. Pass quantize_attention=True to quantize its attention matmuls (QATMatMul) as SparseML did for BertModel"
            )
        known = [f for f in present if f in SPARSEML_MODIFIED.values()]
        if known:
            return None, (
                f"the attention of {kind} ({', '.join(known)}) trains in float, as under SparseML 1.8, whose registry did not "
                f"name {kind}; recipekit quantizes only BERT's attention matmuls"
            )
        return None, None
    if family not in IMPLEMENTED:
        return None, (
            f"SparseML 1.8's modify_model {_NOT_SIMULATED[family]}, which recipekit does not simulate (only BERT's "
            f"attention matmuls): {kind} trains as transformers defines it; pass quantize_attention=False to silence this"
        )
    modification = modify_bert(model)
    if not modification.modules:
        return None, f"{kind} has no BertSelfAttention module to give quantizable matmuls (transformers' class names changed?)"
    # Asked for explicitly (quantize_attention=True) on a class SparseML left float: nothing to say.
    return modification, None
