"""SparseML 1.8.0 running OBS, Movement, Structured and distillation on tiny models (issue 12).

Each case writes ``<case>.pt``: the recipe, steps per epoch, the initial weights, the
training batches, the gradient-sample batches, the teacher's weights, and after
every wrapped step the parameters, the masks and the loss SparseML used.
tests/test_algorithms.py replays the same case through recipekit and compares with
``torch.equal``. The models are rebuilt from ``models()`` below and its twin in the
test, so keep them identical.
"""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Any

import torch

from sparseml_fixtures.common import deterministic

SPE = 2


def models(kind: str) -> torch.nn.Module:
    if kind == "mlp":
        return torch.nn.Sequential(torch.nn.Linear(16, 16), torch.nn.ReLU(), torch.nn.Linear(16, 16))
    if kind == "teacher":
        return torch.nn.Sequential(torch.nn.Linear(16, 16), torch.nn.ReLU(), torch.nn.Dropout(0.5), torch.nn.Linear(16, 16))
    if kind == "conv":
        return torch.nn.Sequential(torch.nn.Conv2d(4, 8, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(32, 4))
    raise ValueError(kind)


def _inputs(kind: str, count: int, generator: torch.Generator) -> list[tuple[torch.Tensor, torch.Tensor]]:
    if kind == "conv":
        return [(torch.randn(4, 4, 4, 4, generator=generator), torch.randint(0, 4, (4,), generator=generator)) for _ in range(count)]
    return [(torch.randn(4, 16, generator=generator), torch.randint(0, 16, (4,), generator=generator)) for _ in range(count)]


def _masks(manager: Any) -> dict[str, torch.Tensor]:
    found: dict[str, torch.Tensor] = {}
    for modifier in manager.modifiers:
        masks = getattr(modifier, "_module_masks", None)
        if masks is None:
            continue
        for name, mask in zip(masks.names, masks.param_masks, strict=True):
            found[name] = mask.detach().clone()
    return found


def run(name: str, recipe: str, kind: str, steps: int, out: Path, distill: bool = False, samples: int = 0) -> None:
    from sparseml.pytorch.optim import ScheduledModifierManager

    generator = torch.Generator().manual_seed(zlib.crc32(name.encode()))
    torch.manual_seed(0)
    model = models(kind)
    init = {k: v.clone() for k, v in model.state_dict().items()}
    teacher = models("teacher")
    teacher_init = {k: v.clone() for k, v in teacher.state_dict().items()}
    batches = _inputs(kind, steps, generator)
    sampler = _inputs(kind, samples, generator)
    loss_fn = torch.nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    manager = ScheduledModifierManager.from_yaml(recipe)
    kwargs: dict[str, Any] = {}
    if samples:
        kwargs["grad_sampler"] = {
            "data_loader_builder": lambda _kw: lambda: iter([([x], {}, y) for x, y in sampler]),
            "loss_function": loss_fn,
        }
    kwargs["distillation_teacher"] = teacher if distill else "disable"
    torch.manual_seed(1)  # the teacher's dropout (off inside the window: eval mode)
    wrapped = manager.modify(model, optimizer, steps_per_epoch=SPE, **kwargs)
    record = []
    for k, (x, y) in enumerate(batches):
        wrapped.zero_grad()
        outputs = model(x)
        loss = loss_fn(outputs, y)
        if distill:
            epoch = k // SPE + (k % SPE) / SPE
            loss = manager.loss_update(loss, model, optimizer, epoch, SPE, student_outputs=outputs, student_inputs=x)
        loss.backward()
        wrapped.step()
        scores = {}
        for modifier in manager.modifiers:
            scorer = getattr(modifier, "_scorer", None)
            if scorer is not None and hasattr(scorer, "_movement_scores"):
                scores = {n: s.clone() for n, s in zip(modifier._module_masks.names, scorer._movement_scores, strict=True)}
        record.append(
            {
                "params": {n: p.detach().clone() for n, p in model.named_parameters()},
                "masks": _masks(manager),
                "loss": loss.detach().clone(),
                "scores": scores,
            }
        )
    manager.finalize(model)
    torch.save(
        {
            "recipe": recipe, "spe": SPE, "kind": kind, "init": init, "teacher": teacher_init, "batches": batches,
            "sampler": sampler, "distill": distill, "steps": record,
        },
        out / f"{name}.pt",
    )  # fmt: skip
    print(f"  {name}: {len(record)} steps", flush=True)


def _obs(params: str, block: int, mask: str, rounds: int = 1, global_sparsity: bool = True) -> str:
    return f"""
modifiers:
  - !EpochRangeModifier
    start_epoch: 0.0
    end_epoch: 4.0
  - !OBSPruningModifier
    params: {params}
    init_sparsity: 0.5
    final_sparsity: 0.75
    start_epoch: 1.0
    end_epoch: 3.0
    update_frequency: 1.0
    mask_type: {mask}
    num_grads: 8
    damp: 0.0001
    fisher_block_size: {block}
    num_recomputations: {rounds}
    global_sparsity: {str(global_sparsity).lower()}
"""


GRADUAL = """
modifiers:
  - !EpochRangeModifier
    start_epoch: 0.0
    end_epoch: 4.0
  - !{type}
    params: {params}
    init_sparsity: 0.3
    final_sparsity: 0.6
    start_epoch: 1.0
    end_epoch: 3.0
    update_frequency: 0.5{extra}
"""

DISTILL = """
modifiers:
  - !EpochRangeModifier
    start_epoch: 0.0
    end_epoch: 3.0
  - !DistillationModifier
    start_epoch: 1.0
    end_epoch: 2.0
    hardness: {hardness}
    temperature: {temperature}
"""


def main(out: Path) -> None:
    import os
    import tempfile

    os.environ.setdefault("NM_TEST_LOG_DIR", tempfile.mkdtemp())  # NM_TEST_MODE logs there, not into the repo
    deterministic()
    mlp = "['0.weight', '2.weight']"
    run("obs_unstructured_b8", _obs(mlp, 8, "unstructured"), "mlp", 8, out, samples=8)
    run("obs_unstructured_b5_r2_layerwise", _obs(mlp, 5, "unstructured", rounds=2, global_sparsity=False), "mlp", 8, out, samples=16)
    run("obs_unstructured_b1", _obs(mlp, 1, "unstructured"), "mlp", 8, out, samples=8)
    run("obs_block4_b8", _obs(mlp, 8, "block4"), "mlp", 8, out, samples=8)
    run("obs_block4_conv", _obs("['0.weight', '3.weight']", 8, "block4"), "conv", 8, out, samples=8)
    run("movement", GRADUAL.format(type="MovementPruningModifier", params=mlp, extra=""), "mlp", 8, out)
    groups = "\n    param_groups: [['0.weight', '2.weight']]\n    mask_type: filter"
    run("structured_filter_groups", GRADUAL.format(type="StructuredPruningModifier", params=mlp, extra=groups), "mlp", 8, out)
    channel = "\n    mask_type: channel"
    run(
        "structured_channel_conv",
        GRADUAL.format(type="StructuredPruningModifier", params="['0.weight', '3.weight']", extra=channel),
        "conv",
        8,
        out,
    )
    run("distill_h05_t2", DISTILL.format(hardness=0.5, temperature=2.0), "mlp", 6, out, distill=True)
    run("distill_h1_t3", DISTILL.format(hardness=1.0, temperature=3.0), "mlp", 6, out, distill=True)
