"""The examples run as documented and print what they promise: obert_trainer.py and hf_qat_onnx.py (Hugging Face),
lightning_cnn.py and lightning_qat_onnx.py (Lightning); the *_qat_onnx.py ones end in an int8 model served by onnxruntime."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parents[1]


def run(script: str) -> list[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / script)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    for warning in ("IntegrationWarning", "RecipeRuntimeWarning", "DistillationSkipped"):
        assert warning not in result.stderr, result.stderr[-3000:]
    return result.stdout.splitlines()


def test_the_obert_recipe_in_the_hugging_face_trainer() -> None:
    pytest.importorskip("transformers")
    lines = run("obert_trainer.py")
    # 64 sequences in batches of 8, accumulating 2: 4 optimizer steps an epoch, 4 epochs.
    assert lines[-3:] == [
        "optimizer steps: 16",
        # Warm-up from final_lr to init_lr over epoch 0.5, then linear decay (logged every 4 steps).
        "learning rate every 4 steps: 4.68e-04, 3.39e-04, 2.11e-04, 8.21e-05",
        "encoder sparsity: 0.80 (12 tensors)",
    ]


def test_pruning_and_qat_of_a_small_cnn_in_lightning() -> None:
    pytest.importorskip("lightning")
    lines = run("lightning_cnn.py")
    assert lines[-6:] == [
        "optimizer steps: 40",
        # The recipe names features.0.weight: the LightningModule's "model." prefix was matched.
        "model.features.0.weight: sparsity 0.75",
        "model.features.3.weight: sparsity 0.75",
        "model.classifier.weight: sparsity 0.75",
        "QAT: enabled True, observers off, BatchNorm frozen True",
        "fake-quantized modules: 3",
    ]


def served(lines: list[str]) -> tuple[float, float, float]:
    """The examples' last four lines: int8 kernels, accuracies, agreement, latency ratio (printed, never asserted: CI is noisy)."""
    kernels, accuracy, agree, latency = lines[-4:]
    assert kernels.startswith("int8 kernels: ") and kernels != "int8 kernels: ", kernels  # onnxruntime fused int8 kernels
    assert latency.startswith("latency int8/fp32: ") and float(latency.split(": ")[1]) > 0, latency
    torch_accuracy, ort_accuracy = (float(part.split()[-1]) for part in accuracy.removeprefix("accuracy: ").split(", "))
    return torch_accuracy, ort_accuracy, float(agree.removeprefix("predictions agree: "))


def test_hugging_face_trainer_to_qat_to_onnx_to_onnxruntime() -> None:
    pytest.importorskip("transformers")
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    torch_accuracy, ort_accuracy, agree = served(run("hf_qat_onnx.py"))
    # The int8 file classifies held-out sequences (another batch size and length) as the QAT model does.
    assert torch_accuracy >= 0.9 and abs(ort_accuracy - torch_accuracy) <= 0.02 and agree >= 0.98


def test_lightning_to_qat_to_onnx_to_onnxruntime() -> None:
    pytest.importorskip("lightning")
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    torch_accuracy, ort_accuracy, agree = served(run("lightning_qat_onnx.py"))
    assert torch_accuracy >= 0.9 and abs(ort_accuracy - torch_accuracy) <= 0.02 and agree >= 0.98
