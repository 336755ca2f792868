"""An oBERT recipe in a Hugging Face Trainer: OBS pruning, distillation and LR functions (CPU, under a minute).

    python examples/obert_trainer.py

The BERT is tiny and randomly initialised from a config, the data random token sequences: nothing is
downloaded. Put your own model, tokenized dataset and teacher (the fine-tuned dense model) in their
place. The only recipekit line is ``callbacks=[RecipeCallback(...)]``: it compiles examples/obert.yaml
for the Trainer's steps per epoch, owns the LR, draws OBS's gradient samples from the train data and
distills from the teacher (docs/integrations.md).
"""

from __future__ import annotations

import copy
import sys
import tempfile
from pathlib import Path

import torch
import transformers

from recipekit.integrations.transformers import RecipeCallback

RECIPE = Path(__file__).resolve().parent / "obert.yaml"
SEQUENCES, LENGTH, VOCAB = 64, 16, 100


class Tokens(torch.utils.data.Dataset[dict[str, torch.Tensor]]):
    """Random token sequences with binary labels, as a tokenized classification dataset gives them."""

    def __init__(self) -> None:
        generator = torch.Generator().manual_seed(0)
        self.ids = torch.randint(0, VOCAB, (SEQUENCES, LENGTH), generator=generator)
        self.labels = (self.ids[:, 0] > VOCAB // 2).long()  # something to learn

    def __len__(self) -> int:
        return SEQUENCES

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {"input_ids": self.ids[index], "attention_mask": torch.ones(LENGTH, dtype=torch.long), "labels": self.labels[index]}


def main(output_dir: str) -> None:
    torch.manual_seed(0)
    config = transformers.BertConfig(
        vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, max_position_embeddings=32
    )
    model = transformers.BertForSequenceClassification(config)
    teacher = copy.deepcopy(model).eval()  # oBERT distills from the fine-tuned dense model
    args = transformers.TrainingArguments(
        output_dir=output_dir,
        per_device_train_batch_size=8,
        gradient_accumulation_steps=2,  # 8 batches an epoch: 4 optimizer steps
        num_train_epochs=4,  # the recipe's num_epochs
        lr_scheduler_type="constant",  # the recipe's LR functions set the LR
        weight_decay=0.0,
        save_strategy="no",
        logging_steps=4,
        report_to="none",
        use_cpu=True,
        disable_tqdm=True,
    )
    recipe = RecipeCallback(RECIPE, teacher=teacher)
    trainer = transformers.Trainer(model=model, args=args, train_dataset=Tokens(), callbacks=[recipe])
    trainer.train()

    assert recipe.runner is not None
    named = dict(model.named_parameters())
    pruned = [named[name] for name in recipe.runner.masks()]  # the 12 encoder weights the recipe selects
    zeros, total = sum(int((p == 0).sum()) for p in pruned), sum(p.numel() for p in pruned)
    lrs = [f"{entry['learning_rate']:.2e}" for entry in trainer.state.log_history if "learning_rate" in entry]
    print(f"optimizer steps: {trainer.state.global_step}")
    print(f"learning rate every 4 steps: {', '.join(lrs)}")
    print(f"encoder sparsity: {zeros / total:.2f} ({len(pruned)} tensors)")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(sys.argv[1])
    else:
        with tempfile.TemporaryDirectory() as directory:
            main(directory)
