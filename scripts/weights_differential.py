"""The weights differential: SparseML 1.8.0 and recipekit train each golden's synthetic model, same final weights?

For every v1 golden in ../shared/golden/sparseml (steps per epoch 3) that SparseML trained, both
sides build the golden's synthetic model (``tests/runtime_models.build_model``, seed 0) and its SGD
optimizer, and run ``total_steps`` steps of the same gradient stream (``loss = sum(p * G_k)`` over
the trainable parameters, ``G_k`` from a generator seeded 1, then ``backward``, so SparseML's
gradient hooks run). The SparseML side saves the final weights; the recipekit side replays the
compiled plan through ``attach`` and compares with ``torch.equal``. Recipes with OBS, M-FAC or
distillation are left out (they need a gradient sampler or a teacher; tests/test_algorithms.py and
tests/test_mfac.py compare them with SparseML's fixtures). Run on one machine:

    NM_DISABLE_ANALYTICS=1 NM_TEST_MODE=1 /work/sparseml-venv/bin/python scripts/weights_differential.py sparseml OUT
    .venv/bin/python scripts/weights_differential.py recipekit OUT

Each prints one line per recipe; the recipekit side ends with ``same N diff M`` and exits 1 on any diff.
"""

from __future__ import annotations

import gzip
import json
import sys
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import torch  # noqa: E402

from tests.runtime_models import build_model  # noqa: E402

SKIPPED = ("OBSPruningModifier", "MFACPruningModifier", "Distillation")


def goldens() -> list[tuple[Path, dict[str, Any]]]:
    """Trained goldens, smallest (steps x parameters) first."""
    found = []
    for path in sorted((SHARED / "golden" / "sparseml").glob("*.spe3.json.gz")):
        golden = json.loads(gzip.decompress(path.read_bytes()))
        if "sparseml_error" in golden or golden["total_steps"] == 0:
            continue
        if any(tag in (SHARED / "corpus" / golden["recipe"]).read_text(encoding="utf-8") for tag in SKIPPED):
            continue
        found.append((golden["total_steps"] * len(golden["params"]), path, golden))
    found.sort(key=lambda row: (row[0], row[1].name))
    return [(path, golden) for _, path, golden in found]


def setup(golden: dict[str, Any]) -> tuple[torch.nn.Module, dict[str, torch.nn.Parameter], torch.optim.Optimizer]:
    torch.manual_seed(0)
    model = build_model(golden["params"], golden["modules_without_params"])
    named = dict(model.named_parameters())
    spec = golden["optimizer"]
    members = spec.get("param_group_members")
    groups = [{"params": [named[n] for n in names]} for names in members] if members else [{"params": list(named.values())}]
    optimizer = torch.optim.SGD(groups, lr=spec["lr"], momentum=spec["momentum"], weight_decay=spec["weight_decay"])
    return model, named, optimizer


def train(golden: dict[str, Any], named: dict[str, torch.nn.Parameter], optimizer: torch.optim.Optimizer, step: Any) -> None:
    generator = torch.Generator().manual_seed(1)
    for _ in range(golden["total_steps"]):
        optimizer.zero_grad(set_to_none=True)
        grads = {n: torch.randn(p.shape, generator=generator) * 1e-2 for n, p in named.items()}
        loss = sum((p * grads[n]).sum() for n, p in named.items() if p.requires_grad)
        if isinstance(loss, torch.Tensor):
            loss.backward()
        step()


def sparseml_side(out: Path) -> int:
    from sparseml_fixtures.common import deterministic, patch_qconfig

    deterministic()
    patch_qconfig()
    from sparseml.pytorch.optim import ScheduledModifierManager

    out.mkdir(parents=True, exist_ok=True)
    for path, golden in goldens():
        target = out / (path.name + ".pt")
        if target.exists():
            continue
        model, named, optimizer = setup(golden)
        manager = ScheduledModifierManager.from_yaml(str(SHARED / "corpus" / golden["recipe"]))
        wrapped = manager.modify(model, optimizer, steps_per_epoch=golden["steps_per_epoch"], distillation_teacher="disable")
        train(golden, named, optimizer, wrapped.step)
        manager.finalize(model)
        torch.save({n: p.detach().clone() for n, p in named.items()}, target)
        print("ok", path.name, flush=True)
    return 0


def recipekit_side(out: Path) -> int:
    from recipekit.compiler import compile_source
    from recipekit.runtime import attach
    from recipekit.source import read_source

    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    same = diff = 0
    for path, golden in goldens():
        target = out / (path.name + ".pt")
        if not target.exists():
            continue
        theirs = torch.load(target, weights_only=True)
        source, _ = read_source(SHARED / "corpus" / golden["recipe"])
        assert source is not None
        plan, _ = compile_source(source, golden["steps_per_epoch"])
        assert plan is not None
        model, named, optimizer = setup(golden)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the not-executed notes and never-observing quantizers are said elsewhere
            runner = attach(plan, model, optimizer, teacher="disable")
            train(golden, named, optimizer, optimizer.step)
            runner.finalize()
        bad = [n for n, p in named.items() if not torch.equal(p.detach(), theirs[n])]
        if bad:
            diff += 1
        else:
            same += 1
        print("DIFF" if bad else "same", path.name, bad[:3], flush=True)
    print("same", same, "diff", diff)
    return 1 if diff else 0


def main() -> int:
    if len(sys.argv) != 3 or sys.argv[1] not in ("sparseml", "recipekit"):
        print(__doc__)
        return 2
    out = Path(sys.argv[2])
    return sparseml_side(out) if sys.argv[1] == "sparseml" else recipekit_side(out)


if __name__ == "__main__":
    raise SystemExit(main())
