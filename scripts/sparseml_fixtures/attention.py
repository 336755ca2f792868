"""Fixtures for issue 23 item 6: BERT's attention matmuls under QAT, as SparseML 1.8.0's Hugging Face integration ran them.

A tiny ``BertModel`` (transformers 4.40.2, SparseML's supported range) is modified by SparseML's own
``modify_model`` (``BertSelfAttentionWithQuantizableMatmuls``: ``attention_scores_matmul`` and
``context_layer_matmul`` are ``QATMatMul``) and trained under the legacy and the new-style
QuantizationModifier: each QATMatMul is wrapped in a ``QATWrapper`` whose quant stubs
fake-quantize the left input (asymmetric), the right input (symmetric) and the output. Recorded
per run: the outputs of every step, every FakeQuantize (SparseML's module name: scale, zero point,
observer min/max) at every step, and the final parameters.

Also ``registry.json``: which model classes ``modify_model`` modified (BertModel, BertForQuestionAnswering,
not BertForSequenceClassification) and what a DistilBertModel's modified attention did on its first forward.

The model has no pooler and no dropout and is called without a padding mask, so everything outside
the attention runs the same float operations in transformers 4.40 and 5.x.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .common import deterministic, fake_quantizers, patch_qconfig, qat_recipe, write_json

SPE = 2
EPOCHS = 3
SHAPE = (2, 6)
VOCAB = 40


def config() -> Any:
    from transformers import BertConfig

    return BertConfig(
        vocab_size=VOCAB, hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32,
        max_position_embeddings=16, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
    )  # fmt: skip


def models(kind: str = "bert") -> nn.Module:
    """The fixture model (tests/test_attention_qat.py builds it from here, under transformers 5)."""
    from transformers import BertModel

    if kind != "bert":
        raise ValueError(kind)
    return BertModel(config(), add_pooling_layer=False)


def initial_state() -> dict[str, torch.Tensor]:
    torch.manual_seed(60)
    model = models()
    return {k: v.clone() for k, v in model.state_dict().items()}


def inputs() -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(61)
    return [torch.randint(0, VOCAB, SHAPE, generator=g) for _ in range(EPOCHS * SPE)]


def _header(body: str) -> str:
    return qat_recipe(EPOCHS, body)


RECIPES = {
    "legacy": _header("    start_epoch: 1.0\n    quantize_linear_activations: false\n    disable_quantization_observer_epoch: 2.5\n"),
    "legacy exclude QATMatMul": _header(
        "    start_epoch: 1.0\n    quantize_linear_activations: false\n    exclude_module_types: ['QATMatMul']\n"
    ),
    # SparseML's new-style modifier put a QuantWrapper on an Embedding and crashed on its integer
    # input: real recipes ignore it.
    "new-style default scheme": _header("    start_epoch: 1.0\n    ignore: ['Embedding']\n"),
    "new-style output_activations": _header(
        "    start_epoch: 1.0\n    ignore: ['Embedding']\n    scheme:\n"
        "      input_activations: {num_bits: 8, symmetric: false}\n"
        "      weights: {num_bits: 8, symmetric: true}\n"
        "      output_activations: {num_bits: 8, symmetric: false}\n"
    ),
    "new-style ignore QATMatMul": _header("    start_epoch: 1.0\n    ignore: ['QATMatMul', 'LayerNorm', 'Embedding']\n"),
    "new-style override by name": _header(
        "    start_epoch: 1.0\n    ignore: ['Embedding']\n    scheme_overrides:\n"
        "      encoder.layer.1.attention.self.context_layer_matmul:\n"
        "        input_activations: {num_bits: 8, symmetric: false}\n"
        "        output_activations: {num_bits: 8, symmetric: true}\n"
    ),
}


def _register_modifications() -> None:
    """Import SparseML's modifying_* modules, which register the model classes modify_model modifies.

    SparseAutoModel's import chain (``sparseml.transformers``) did it; that package also imports
    ``datasets``, which this venv lacks, so only the modification subpackage is imported (its parents
    stand in as bare namespace packages).
    """
    import importlib
    import os
    import sys
    import types

    import sparseml

    root = os.path.dirname(sparseml.__file__)
    for name in ("sparseml.transformers", "sparseml.transformers.sparsification"):
        if name not in sys.modules:
            package = types.ModuleType(name)
            package.__path__ = [os.path.join(root, *name.split(".")[1:])]
            sys.modules[name] = package
    importlib.import_module("sparseml.transformers.sparsification.modification")


def modified() -> nn.Module:
    _register_modifications()
    from sparseml.modifiers.quantization_legacy.modification import modify_model

    model = models()
    model.load_state_dict(initial_state())
    model = modify_model(model)
    assert type(model.encoder.layer[0].attention.self.attention_scores_matmul).__name__ == "QATMatMul", "not modified"
    return model


def run(recipe: str) -> dict[str, Any]:
    from sparseml.pytorch.optim import ScheduledModifierManager

    model = modified()
    names = {id(p): n for n, p in model.named_parameters()}
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    manager = ScheduledModifierManager.from_yaml(recipe)
    wrapped = manager.modify(model, optimizer, steps_per_epoch=SPE)
    outputs, quantizers_per_step = [], []
    for ids in inputs():
        optimizer.zero_grad(set_to_none=True)
        out = model(input_ids=ids).last_hidden_state
        outputs.append(out.detach().clone())
        quantizers_per_step.append(fake_quantizers(model))
        out.square().mean().backward()
        wrapped.step()
    structure = str(model)
    quantizers = fake_quantizers(model)
    manager.finalize(model)
    final = {names[id(p)]: p.detach().clone() for p in model.parameters() if id(p) in names}
    return {
        "recipe": recipe,
        "outputs": outputs,
        "quantizers": quantizers,
        "quantizers_per_step": quantizers_per_step,
        "final": final,
        "structure": structure,
    }


def registry() -> dict[str, Any]:
    """Which classes SparseML's modify_model modified, by the QATMatMul modules it added."""
    _register_modifications()
    import transformers
    from sparseml.modifiers.quantization_legacy.modification import modify_model

    found: dict[str, Any] = {}
    for kind in ("BertModel", "BertForQuestionAnswering", "BertForSequenceClassification", "BertForMaskedLM"):
        model = modify_model(getattr(transformers, kind)(config()))
        found[kind] = sorted(n for n, m in model.named_modules() if type(m).__name__ == "QATMatMul")
    distil = transformers.DistilBertConfig(vocab_size=VOCAB, dim=16, n_layers=1, n_heads=2, hidden_dim=32, max_position_embeddings=16)
    model = modify_model(transformers.DistilBertModel(distil))
    try:
        model(input_ids=inputs()[0])
        found["DistilBertModel forward"] = "ran"
    except Exception as error:  # noqa: BLE001 - what SparseML's modified model did is the fixture
        found["DistilBertModel forward"] = f"{type(error).__name__}: {error}"
    found["new-style output_activations without input_activations"] = crash(
        _header(
            "    start_epoch: 0.0\n    ignore: ['Embedding']\n    scheme:\n      input_activations: null\n"
            "      output_activations: {num_bits: 8, symmetric: false}\n"
        )
    )
    return found


def crash(recipe: str) -> str:
    """What SparseML raised when QAT started under ``recipe`` ("ran" if nothing)."""
    from sparseml.pytorch.optim import ScheduledModifierManager

    model = modified()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    try:
        ScheduledModifierManager.from_yaml(recipe).modify(model, optimizer, steps_per_epoch=SPE)
        model(input_ids=inputs()[0])
    except Exception as error:  # noqa: BLE001 - what SparseML did is the fixture
        return f"{type(error).__name__}: {error}"
    return "ran"


def main(out: Path) -> None:
    deterministic()
    patch_qconfig()
    runs = {}
    for name, recipe in RECIPES.items():
        print(f"  {name}", flush=True)
        runs[name] = run(recipe)
    setup = {"initial": initial_state(), "inputs": inputs(), "steps_per_epoch": SPE, "lr": 0.05, "momentum": 0.9}
    torch.save({**setup, "loss": "last_hidden_state.square().mean()", "runs": copy.deepcopy(runs)}, out / "bert.pt")
    write_json(out / "registry.json", registry())
