"""One SparseML 1.8.0 training loop on a tiny model, recording everything a step changes.

Shared by the AC/DC, LayerPruning and M-FAC topics. A case is a recipe, a model
kind, an optimizer kind and a step count; ``record`` writes ``<case>.pt`` with the
inputs (recipe, steps per epoch, initial weights, batches, gradient-sample batches)
and, after every wrapped step: the parameters (those of swapped-out modules
apart), the masks, the optimizer state
tensors (momentum buffers, Adam moments), the loss, the module class at every
module name and the ``state_dict`` keys; and the same after ``manager.finalize``.
The tests rebuild the models from ``models()`` here (tests/sparseml_steps.py
imports it): this module imports only torch at the top, SparseML inside ``record``.
"""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Any

import torch


class Mix(torch.nn.Module):
    """A module called with two positional arguments: SparseML's Identity returns both as a tuple."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = torch.nn.Parameter(torch.full((16,), 0.5))

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return a + self.scale * b


class TwoArg(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.inp = torch.nn.Linear(16, 16)
        self.mix = Mix()
        self.out = torch.nn.Linear(16, 16)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.mix(self.inp(x), x)
        if isinstance(y, tuple):  # Mix replaced by Identity: (a, b)
            y = y[0] - y[1]
        return self.out(torch.relu(y))


def models(kind: str) -> torch.nn.Module:
    if kind == "mlp":
        return torch.nn.Sequential(torch.nn.Linear(16, 16), torch.nn.ReLU(), torch.nn.Linear(16, 16))
    if kind == "deep":
        return torch.nn.Sequential(
            torch.nn.Linear(16, 16), torch.nn.ReLU(), torch.nn.Linear(16, 16), torch.nn.ReLU(), torch.nn.Linear(16, 16)
        )
    if kind == "two_arg":
        return TwoArg()
    raise ValueError(kind)


def _batches(count: int, generator: torch.Generator) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return [(torch.randn(4, 16, generator=generator), torch.randint(0, 16, (4,), generator=generator)) for _ in range(count)]


def _masks(manager: Any) -> dict[str, torch.Tensor]:
    found: dict[str, torch.Tensor] = {}
    for modifier in manager.modifiers:
        masks = getattr(modifier, "_module_masks", None)
        if masks is None:
            continue
        for name, mask in zip(masks.names, masks.param_masks, strict=True):
            found[name.removesuffix(".sparsity_mask")] = mask.detach().clone()
    return found


def _optimizer(kind: str, params: Any) -> torch.optim.Optimizer:
    if kind == "sgd":
        return torch.optim.SGD(params, lr=0.1, momentum=0.9)
    if kind == "adam":
        return torch.optim.Adam(params, lr=0.01)
    raise ValueError(kind)


def _snapshot(model: torch.nn.Module, optimizer: torch.optim.Optimizer, names: dict[int, str]) -> dict[str, Any]:
    state: dict[str, torch.Tensor] = {}
    for param, values in optimizer.state.items():
        for key, value in values.items():
            if isinstance(value, torch.Tensor) and value.dim() > 0:
                state[f"{names[id(param)]}/{key}"] = value.detach().clone()
    present = {id(p) for p in model.parameters()}
    return {
        "params": {n: p.detach().clone() for n, p in model.named_parameters()},
        # Parameters of modules swapped out of the model: still in the optimizer, absent from the model.
        "removed_params": {
            names[id(p)]: p.detach().clone() for group in optimizer.param_groups for p in group["params"] if id(p) not in present
        },
        "optimizer_state": state,
        "modules": {n: type(m).__name__ for n, m in model.named_modules()},
        "state_dict_keys": list(model.state_dict().keys()),
    }


def record(
    name: str,
    recipe: str,
    out: Path | None,
    *,
    kind: str = "mlp",
    steps: int = 8,
    spe: int = 2,
    optimizer: str = "sgd",
    samples: int = 0,
) -> None:
    from sparseml.pytorch.optim import ScheduledModifierManager

    generator = torch.Generator().manual_seed(zlib.crc32(name.encode()))
    torch.manual_seed(0)
    model = models(kind)
    init = {k: v.clone() for k, v in model.state_dict().items()}
    names = {id(p): n for n, p in model.named_parameters()}  # before any module is swapped out
    batches = _batches(steps, generator)
    sampler = _batches(samples, generator)
    loss_fn = torch.nn.CrossEntropyLoss()
    opt = _optimizer(optimizer, model.parameters())
    manager = ScheduledModifierManager.from_yaml(recipe)
    kwargs: dict[str, Any] = {}
    if samples:
        kwargs["grad_sampler"] = {
            "data_loader_builder": lambda _kw: lambda: iter([([x], {}, y) for x, y in sampler]),
            "loss_function": loss_fn,
        }
    wrapped = manager.modify(model, opt, steps_per_epoch=spe, **kwargs)
    attached = _snapshot(model, opt, names)  # LayerPruning may have swapped modules at initialize
    history = []
    for x, y in batches:
        wrapped.zero_grad()
        outputs = model(x)
        loss = loss_fn(outputs, y)
        loss.backward()
        wrapped.step()
        snap = _snapshot(model, opt, names)
        snap["masks"] = _masks(manager)
        snap["loss"] = loss.detach().clone()
        history.append(snap)
    manager.finalize(model)
    final = _snapshot(model, opt, names)
    if out is None:
        return
    torch.save(
        {
            "recipe": recipe, "spe": spe, "kind": kind, "optimizer": optimizer, "init": init, "batches": batches,
            "sampler": sampler, "attached": attached, "steps": history, "final": final,
        },
        out / f"{name}.pt",
    )  # fmt: skip
    print(f"  {name}: {len(history)} steps", flush=True)


def raises(name: str, recipe: str, *, kind: str = "mlp", steps: int = 4, spe: int = 2, samples: int = 0) -> str:
    """Run a case SparseML should crash on; return ``ExceptionType: message`` (printed, for the record)."""
    try:
        record(name, recipe, None, kind=kind, steps=steps, spe=spe, samples=samples)
    except Exception as error:  # noqa: BLE001 - the point: which exception SparseML raised
        text = f"{type(error).__name__}: {error}"
        print(f"  {name}: raised {text}", flush=True)
        return text
    raise AssertionError(f"{name}: SparseML did not raise")


def prepare() -> None:
    import os
    import tempfile

    os.environ.setdefault("NM_TEST_LOG_DIR", tempfile.mkdtemp())  # NM_TEST_MODE logs there, not into the repo
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
