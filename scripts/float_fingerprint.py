"""A fingerprint of how this machine's torch computes float32: the key to bitwise fixture comparison.

Float kernels give different last bits on different CPUs (vector width, FMA, the BLAS path MKL or
oneDNN picks for the CPU, the reduction order that follows), so a SparseML fixture is a bitwise
reference only where floats are computed the same way. ``fingerprint()`` runs a fixed set of
small float32 kernels the pruning, distillation and QAT code paths use (matmul, addmm and bmm of
several shapes, linear and conv2d forward and backward, softmax, log_softmax, cross entropy,
KL divergence, Cholesky, inverse, solve, reductions, elementwise math, one SGD and one Adam step,
fake quantization, topk/sort/kthvalue on ties) on inputs made from integers (no RNG: its vector
paths differ too), one thread, and hashes the bits of every result.

Two machines with equal ``digest`` and ``torch`` computed every probe bit for bit the same; the
fixture tests then compare with ``torch.equal`` (tests/fixture_compare.py). A probe set cannot
prove every kernel agrees: with RECIPEKIT_BITWISE=1 a mismatch that slips past it still fails.

Imported by the fixture generator (scripts/make_sparseml_fixtures.py, in the SparseML venv,
which has torch but not recipekit) and by the tests; it needs only torch. Run it to print this
machine's fingerprint: ``python scripts/float_fingerprint.py``.
"""

from __future__ import annotations

import hashlib
import json
import platform
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
import torch.nn.functional as F

#: Bump when the probe set changes: fixtures recorded with another version never match.
VERSION = 1
FILENAME = "fingerprint.json"


def _values(n: int, seed: int) -> list[float]:
    """n floats in [-1, 1) from an integer hash: the same on every machine, no RNG kernel involved."""
    return [((((i + 1) * 2654435761 + seed * 40503) % 4294967296) / 2147483648.0) - 1.0 for i in range(n)]


def _tensor(*shape: int, seed: int = 0, scale: float = 1.0) -> torch.Tensor:
    n = 1
    for s in shape:
        n *= s
    return (torch.tensor(_values(n, seed), dtype=torch.float64) * scale).to(torch.float32).reshape(shape)


def _spd(n: int, seed: int) -> torch.Tensor:
    a = _tensor(n, n, seed=seed)
    return a @ a.T + n * torch.eye(n)


def _linear_grads() -> list[torch.Tensor]:
    x = _tensor(4, 16, seed=1)
    w = _tensor(16, 16, seed=2, scale=0.25).requires_grad_()
    b = _tensor(16, seed=3, scale=0.1).requires_grad_()
    target = torch.tensor([i % 16 for i in range(4)])
    out = F.linear(torch.relu(F.linear(x, w, b)), w, b)
    loss = F.cross_entropy(out, target)
    loss.backward()  # type: ignore[no-untyped-call]
    assert w.grad is not None and b.grad is not None
    return [out, loss, w.grad, b.grad]


def _conv_grads() -> list[torch.Tensor]:
    x = _tensor(4, 4, 4, 4, seed=4)
    w = _tensor(8, 4, 3, 3, seed=5, scale=0.2).requires_grad_()
    b = _tensor(8, seed=6, scale=0.1).requires_grad_()
    out = F.conv2d(x, w, b)
    out.square().sum().backward()  # type: ignore[no-untyped-call]
    assert w.grad is not None and b.grad is not None
    return [out, w.grad, b.grad]


def _optimizer_steps(kind: str) -> list[torch.Tensor]:
    p = torch.nn.Parameter(_tensor(16, 16, seed=7))
    opt: torch.optim.Optimizer = torch.optim.SGD([p], lr=0.1, momentum=0.9) if kind == "sgd" else torch.optim.Adam([p], lr=0.01)
    for k in range(3):
        p.grad = _tensor(16, 16, seed=8 + k, scale=0.3)
        opt.step()
    return [p.detach().clone()] + [v for v in opt.state[p].values() if isinstance(v, torch.Tensor)]


def _distill() -> list[torch.Tensor]:
    student, teacher = _tensor(4, 16, seed=11, scale=3.0), _tensor(4, 16, seed=12, scale=3.0)
    t = 2.0
    kl = F.kl_div(F.log_softmax(student / t, dim=-1), F.log_softmax(teacher / t, dim=-1), reduction="sum", log_target=True)
    return [F.softmax(student, dim=-1), F.log_softmax(student, dim=1), kl * t * t]


def _fake_quant() -> list[torch.Tensor]:
    x = _tensor(8, 16, seed=13, scale=4.0)
    lo, hi = torch.aminmax(x)
    scale = float((hi - lo) / 255)
    zero = round(-float(lo) / scale)
    per_channel = torch.tensor([0.01 * (i + 1) for i in range(8)])
    return [
        torch.fake_quantize_per_tensor_affine(x, scale, zero, 0, 255),
        torch.fake_quantize_per_channel_affine(x, per_channel, torch.zeros(8, dtype=torch.int32), 0, -128, 127),
        F.silu(x),
        torch.round(x * 7.3),
    ]


def _ties() -> list[torch.Tensor]:
    x = torch.tensor([float((i * 7) % 5) for i in range(64)]).reshape(4, 16)
    flat = x.abs().flatten()
    return [
        torch.topk(flat, 10, largest=False).indices,
        torch.sort(flat, stable=True).indices,
        torch.argsort(x, dim=1),
        torch.kthvalue(flat, 20).values,
    ]


def _probes() -> dict[str, Callable[[], Any]]:
    a16, b16 = _tensor(16, 16, seed=21), _tensor(16, 16, seed=22)
    a, b = _tensor(37, 29, seed=23), _tensor(29, 53, seed=24)
    big = _tensor(128, 128, seed=25)
    spd = _spd(8, 26)
    blocks = torch.stack([_spd(4, 30 + i) for i in range(6)])
    vec = _tensor(1000, seed=27)
    return {
        "mm_16": lambda: a16 @ b16,
        "mm_odd": lambda: a @ b,
        "mm_128": lambda: big @ big.T,
        "addmm": lambda: torch.addmm(_tensor(4, 16, seed=28), _tensor(4, 32, seed=29), _tensor(32, 16, seed=30)),
        "bmm": lambda: torch.bmm(blocks, _tensor(6, 4, 1, seed=31)),
        "baddbmm": lambda: blocks.clone().baddbmm_(_tensor(6, 4, 1, seed=32), _tensor(6, 1, 4, seed=33), alpha=-1),
        "einsum": lambda: torch.einsum("bij,bj->bi", blocks, _tensor(6, 4, seed=34)),
        "dot": lambda: vec.dot(_tensor(1000, seed=35)),
        "linear_backward": _linear_grads,
        "conv2d_backward": _conv_grads,
        "softmax": _distill,
        "cholesky": lambda: [torch.linalg.cholesky(spd), torch.cholesky_inverse(torch.linalg.cholesky(spd))],
        "inverse": lambda: [torch.inverse(spd), torch.linalg.inv(blocks)],
        "solve": lambda: torch.linalg.solve(blocks, _tensor(6, 4, seed=36)),
        "reductions": lambda: [vec.sum(), vec.mean(), vec.abs().sum(), torch.linalg.vector_norm(vec), big.sum(dim=0), big.mean(1)],
        "elementwise": lambda: [vec.exp(), vec.abs().sqrt(), vec.abs().add(1).log(), vec.tanh(), vec.sigmoid(), vec / 3.0, vec.pow(2)],
        "sgd": lambda: _optimizer_steps("sgd"),
        "adam": lambda: _optimizer_steps("adam"),
        "fake_quant": _fake_quant,
        "ties": _ties,
    }


def _digest(value: Any) -> str:
    hasher = hashlib.sha256()
    for tensor in value if isinstance(value, (list, tuple)) else [value]:
        t = tensor.detach().contiguous().cpu()
        hasher.update(f"{t.dtype}{tuple(t.shape)}".encode())
        hasher.update(t.numpy().tobytes())
    return hasher.hexdigest()[:16]


@contextmanager
def _settings() -> Iterator[None]:
    """The fixtures are made and replayed on one thread, so is the fingerprint; and the same whatever the caller set."""
    threads, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)


def fingerprint() -> dict[str, Any]:
    """This machine's fingerprint: the per-probe digests, their combined digest, and what we know of the machine."""
    with _settings():
        kernels = {name: _digest(probe()) for name, probe in _probes().items()}
    combined = hashlib.sha256(json.dumps([VERSION, kernels], sort_keys=True).encode()).hexdigest()[:16]
    return {
        "version": VERSION,
        "digest": combined,
        "torch": torch.__version__,
        # Informational: what to tell a user about where the fixture came from. Only digest and torch decide.
        "machine": platform.machine(),
        "cpu": _cpu_name(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "kernels": kernels,
    }


def same_floats(recorded: dict[str, Any] | None, current: dict[str, Any]) -> bool:
    """Whether a fixture's recorded fingerprint says it was computed the way this machine computes."""
    return (
        recorded is not None
        and recorded.get("version") == current["version"]
        and recorded.get("digest") == current["digest"]
        and recorded.get("torch") == current["torch"]
    )


def differing(recorded: dict[str, Any] | None, current: dict[str, Any]) -> list[str]:
    """Which probes (or 'torch', 'version') differ: for the message that says why a comparison is not bitwise."""
    if recorded is None:
        return ["no fingerprint recorded"]
    names = [k for k in ("version", "torch") if recorded.get(k) != current[k]]
    theirs = recorded.get("kernels", {})
    return names + [k for k, v in current["kernels"].items() if theirs.get(k) != v]


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


if __name__ == "__main__":
    print(json.dumps(fingerprint(), indent=1, sort_keys=True))
