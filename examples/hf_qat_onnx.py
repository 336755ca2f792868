"""From a Hugging Face Trainer to an int8 model served by onnxruntime: prune, QAT, export, check (CPU, about a minute).

    python examples/hf_qat_onnx.py

A tiny BERT from a config (nothing is downloaded) learns a synthetic task in the Hugging Face Trainer
with ``callbacks=[RecipeCallback(...)]`` (the RECIPE below: pruning, then QAT). The trained
model goes to ONNX with the tokenizer-style dict it takes (``input_ids``, ``attention_mask``) and the
callback's runner; onnxruntime then classifies held-out sequences of another batch size and length,
and the script prints the accuracy of torch and of onnxruntime, how often they agree, and the
latency of the int8 file against an fp32 export of the same architecture.
"""

from __future__ import annotations

import copy
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
import transformers

from recipekit.export import to_onnx
from recipekit.integrations.transformers import RecipeCallback

# Pruning, then quantization-aware training: the encoder's linear layers are pruned to 50 %, and the
# whole model is quantized from epoch 2 (observers off for the last half epoch, so that the exported
# scales are the trained ones). A recipe file's path works the same (RecipeCallback("recipe.yaml")).
RECIPE = """\
version: 1.1.0

num_epochs: 3.0

training_modifiers:
  - !EpochRangeModifier
    start_epoch: 0.0
    end_epoch: eval(num_epochs)

  - !LearningRateFunctionModifier
    start_epoch: 0.0
    end_epoch: eval(num_epochs)
    lr_func: linear
    init_lr: 0.002
    final_lr: 0.0002

pruning_modifiers:
  - !GMPruningModifier
    params: ["re:bert.encoder.layer.*.intermediate.dense.weight", "re:bert.encoder.layer.*.output.dense.weight"]
    init_sparsity: 0.1
    final_sparsity: 0.5
    start_epoch: 0.0
    end_epoch: 1.5
    update_frequency: 0.5

quantization_modifiers:
  - !QuantizationModifier
    start_epoch: 2.0
    disable_quantization_observer_epoch: 2.5
"""
VOCAB, LENGTH = 64, 16


def sequences(count: int, length: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Token ids whose label says whether token 7 occurs in them: something a small BERT learns in seconds."""
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(8, VOCAB, (count, length), generator=generator)
    labels = torch.randint(0, 2, (count,), generator=generator)
    spots = torch.randint(0, length, (count,), generator=generator)
    ids[labels == 1, spots[labels == 1]] = 7
    return ids, labels


class Tokens(torch.utils.data.Dataset[dict[str, torch.Tensor]]):
    def __init__(self, count: int) -> None:
        self.ids, self.labels = sequences(count, LENGTH, seed=0)

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {"input_ids": self.ids[index], "attention_mask": torch.ones(LENGTH, dtype=torch.long), "labels": self.labels[index]}


def latency(path: Path, feeds: dict[str, np.ndarray], runs: int = 30) -> float:
    """Median seconds of one onnxruntime run (one thread, all graph optimisations, as a server would run it)."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    session.run(None, feeds)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        session.run(None, feeds)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main(output_dir: Path) -> None:
    torch.manual_seed(0)
    config = transformers.BertConfig(
        vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, max_position_embeddings=64
    )
    model = transformers.BertForSequenceClassification(config)
    untrained = copy.deepcopy(model)  # the fp32 baseline for latency: same architecture, no quantization
    args = transformers.TrainingArguments(
        output_dir=str(output_dir / "trainer"),
        per_device_train_batch_size=16,
        num_train_epochs=3,  # the recipe's num_epochs
        lr_scheduler_type="constant",  # the recipe sets the LR
        weight_decay=0.0,
        save_strategy="no",
        report_to="none",
        use_cpu=True,
        disable_tqdm=True,
        logging_strategy="no",
    )
    # SparseML 1.8 left a BertForSequenceClassification's attention matmuls float (its registry named
    # BertModel and BertForQuestionAnswering only); say so explicitly. quantize_attention=True would
    # quantize Q·Kᵀ and P·V as it did for BertModel (docs/integrations.md, "Quantized attention").
    callback = RecipeCallback(RECIPE, quantize_attention=False)
    transformers.Trainer(model=model, args=args, train_dataset=Tokens(512), callbacks=[callback]).train()

    example = {"input_ids": torch.randint(8, VOCAB, (4, LENGTH)), "attention_mask": torch.ones(4, LENGTH, dtype=torch.long)}
    int8 = to_onnx(model, example, output_dir / "bert-int8.onnx", runner=callback.runner, print_report=False)
    fp32 = to_onnx(untrained, example, output_dir / "bert-fp32.onnx", print_report=False)

    # Held-out sequences of another batch size and length than the example's: the axes are dynamic.
    ids, labels = sequences(200, 24, seed=1)
    feeds = {"input_ids": ids.numpy(), "attention_mask": np.ones_like(ids.numpy())}
    session = ort.InferenceSession(str(int8.path), providers=["CPUExecutionProvider"])
    served = session.run(["logits"], feeds)[0].argmax(-1)
    model.eval()
    with torch.no_grad():
        trained = model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits.argmax(-1).numpy()
    ratio = latency(int8.path, feeds) / latency(fp32.path, feeds)
    print(f"int8 kernels: {', '.join(sorted(int8.fused_kernels or {}))}")
    print(f"accuracy: torch {float((trained == labels.numpy()).mean()):.3f}, onnxruntime {float((served == labels.numpy()).mean()):.3f}")
    print(f"predictions agree: {float((served == trained).mean()):.3f}")
    print(f"latency int8/fp32: {ratio:.2f}")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(Path(sys.argv[1]))
    else:
        with tempfile.TemporaryDirectory() as directory:
            main(Path(directory))
