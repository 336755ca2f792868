"""SparseML 1.8's DistillationModifier loss (reference: sparseml-algorithms.md §8.1).

``total = (1 - hardness) * loss + hardness * KL``, where KL is the mean over output
heads of ``kl_div(log_softmax(s / T), log_softmax(t / T), log_target=True,
reduction="sum") * T**2 / N`` and ``N`` is the number of rows (numel / classes).
The operations and their order are SparseML's, so the loss is bitwise equal.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch.nn import functional


def kl_logsoftmax(student: torch.Tensor, teacher: torch.Tensor, temperature: float) -> torch.Tensor:
    rows = student.numel() / teacher.size(-1)
    if student.shape != teacher.shape:
        raise ValueError(
            f"distillation needs student and teacher outputs of one shape, got {list(student.shape)} and {list(teacher.shape)}"
        )
    return (
        functional.kl_div(
            input=functional.log_softmax(student / temperature, dim=-1),
            target=functional.log_softmax(teacher / temperature, dim=-1),
            log_target=True,
            reduction="sum",
        )
        * (temperature**2)
        / rows
    )


def kldiv_loss(student: Any, teacher: Any, temperature: float, output_keys: Sequence[Any] | None) -> Any:
    """Mean over heads: a tensor is one head; a mapping uses ``output_keys`` (or all keys); a sequence its indices."""
    losses: list[torch.Tensor] = []
    if isinstance(student, torch.Tensor):
        losses.append(kl_logsoftmax(student, teacher, temperature))
    elif isinstance(student, Mapping):
        for key in output_keys or list(student):
            losses.append(kl_logsoftmax(student[key], teacher[key], temperature))
    elif isinstance(student, Sequence):
        for index in output_keys or range(len(student)):
            losses.append(kl_logsoftmax(student[index], teacher[index], temperature))
    # Python's sum (0 + first + ...) and a true division: SparseML's order.
    return sum(losses) / len(losses) if losses else 0.0


#: The heads SparseML's Hugging Face recipes distilled (``distill_output_keys``): classification and
#: token classification models' ``logits``, question answering's ``start_logits`` and ``end_logits``.
HF_OUTPUT_KEYS = ("logits", "start_logits", "end_logits")


def default_output_keys(student: Any) -> list[Any] | None:
    """The heads to distill when the recipe names none, or None for SparseML's default (every head).

    A mapping output (a Hugging Face ``ModelOutput``) with logits distills those, as SparseML's
    Hugging Face recipes did; SparseML's default of every key would reach the 0-d ``loss`` and fail
    in ``log_softmax``. A mapping without logits distills every key if each is a tensor with a class
    dimension, else raises ValueError naming the keys.
    """
    if not isinstance(student, Mapping):
        return None
    named = [key for key in HF_OUTPUT_KEYS if isinstance(student.get(key), torch.Tensor)]
    if named:
        return named
    distillable = [key for key, value in student.items() if isinstance(value, torch.Tensor) and value.dim() > 0]
    if distillable and len(distillable) == len(student):
        return None
    found = ", ".join(f"{key!r} ({_describe(value)})" for key, value in student.items()) or "none"
    hint = f"distill_output_keys: [{', '.join(map(str, distillable))}]" if distillable else "an output with logits"
    raise ValueError(
        f"the recipe names no distill_output_keys and the model's outputs have no logits to distill: its keys are {found}; "
        f"set {hint} in the DistillationModifier"
    )


def _describe(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return "a 0-d tensor" if value.dim() == 0 else f"a tensor of shape {list(value.shape)}"
    return type(value).__name__


def run_teacher(teacher: Callable[..., Any], inputs: Any) -> Any:
    """Call the teacher the way SparseML's ``tensors_module_forward`` did, without gradients.

    A tensor is one positional argument, a mapping keyword arguments, another
    sequence positional arguments. The inputs are deep-copied first, so a teacher
    that edits them cannot change the student's.
    """
    inputs = copy.deepcopy(inputs)
    if isinstance(teacher, torch.nn.Module):
        teacher.eval()
        device = next((p.device for p in teacher.parameters()), None)
        target = _device_of(inputs)
        if device is not None and target is not None and device != target:
            teacher.to(target)
    with torch.no_grad():
        if isinstance(inputs, torch.Tensor):
            return teacher(inputs)
        if isinstance(inputs, Mapping):
            return teacher(**inputs)
        return teacher(*inputs)


def _device_of(inputs: Any) -> torch.device | None:
    if isinstance(inputs, torch.Tensor):
        return inputs.device
    values = inputs.values() if isinstance(inputs, Mapping) else inputs if isinstance(inputs, (list, tuple)) else ()
    for value in values:
        found = _device_of(value)
        if found is not None:
            return found
    return None


def distillation_loss(
    loss: torch.Tensor,
    student_outputs: Any,
    teacher_outputs: Any,
    hardness: float,
    temperature: float,
    output_keys: Sequence[Any] | None,
) -> Any:
    if type(student_outputs) is not type(teacher_outputs):
        raise ValueError(f"student outputs are {type(student_outputs).__name__} but the teacher's are {type(teacher_outputs).__name__}")
    kl = kldiv_loss(student_outputs, teacher_outputs, temperature, output_keys)
    return ((1.0 - hardness) * loss) + (hardness * kl)
