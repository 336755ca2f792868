"""`recipekit expand` reproduces SparseML 1.8's schedule at every step of every golden.

Each golden in ../shared/golden/sparseml was produced by running SparseML itself;
we compile the same recipe at the same steps_per_epoch, expand it on the same
parameter manifest and optimizer, and compare the state at every step (floats
to 1e-12 relative). Skipped when ../shared is absent.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from recipekit.compiler import compile_source
from recipekit.plan.simulate import expand
from recipekit.source import read_source
from tests.helpers import CORPUS, GOLDEN

PLAN_SCHEMA = json.loads((Path(__file__).resolve().parents[1] / "recipekit" / "schema" / "plan.schema.json").read_text())
GOLDENS = sorted((GOLDEN / "sparseml").glob("*.json.gz")) if (GOLDEN / "sparseml").is_dir() else []
KEYS = ("lr", "weight_decay", "target_sparsity", "qat", "qat_observers", "bn_frozen", "frozen")

#: Goldens whose SparseML error depends on the model, not the recipe, so a compiler
#: cannot refuse them (docs/plan-format.md, "Deliberate differences").
MODEL_DEPENDENT_ERRORS = {
    # `ignore: [QuantizableBatchMatMul]`: SparseML fails because the model's class is spelled
    # QuantizableBatchMatmul. Whether an ignore entry matches is a property of the model.
    "sparseml/src__sparseml__experimental__sparsegpt__examples__opt__recipes__opt-1.3b-opt_pretrain-pruned50_quantW8A8.md",
}


def close(ours: Any, theirs: Any) -> bool:
    if isinstance(theirs, float) and isinstance(ours, (int, float)) and not isinstance(ours, bool):
        return ours == theirs or abs(ours - theirs) <= 1e-12 * max(abs(ours), abs(theirs))
    if isinstance(theirs, list):
        return isinstance(ours, list) and len(ours) == len(theirs) and all(close(a, b) for a, b in zip(ours, theirs, strict=True))
    if isinstance(theirs, dict):
        return isinstance(ours, dict) and ours.keys() == theirs.keys() and all(close(ours[k], theirs[k]) for k in theirs)
    return type(ours) is type(theirs) and ours == theirs


def states(events: list[dict[str, Any]], total: int) -> list[dict[str, Any]]:
    """Rebuild the state at every step from change-point events (golden README rules)."""
    state = {key: events[0][key] for key in KEYS} if events else {}
    result, index = [], 0
    for step in range(total):
        while index < len(events) and events[index]["step"] == step:
            for key in KEYS:
                if key in events[index]:
                    value = events[index][key]
                    state[key] = {**state[key], **value} if key == "target_sparsity" and index else value
            index += 1
        result.append(dict(state))
    return result


@pytest.mark.skipif(not GOLDENS, reason="../shared/golden is not available")
@pytest.mark.parametrize("path", GOLDENS, ids=lambda p: p.name.removesuffix(".json.gz")[-60:])
def test_expand_matches_sparseml(path: Path) -> None:
    golden = json.loads(gzip.decompress(path.read_bytes()))
    source, diagnostics = read_source(CORPUS / golden["recipe"])
    plan = None
    if source is not None:
        plan, diagnostics = compile_source(source, golden["steps_per_epoch"])
    if "sparseml_error" in golden:
        refused = plan is None and any(d.severity.value == "error" for d in diagnostics)
        assert refused or golden["recipe"] in MODEL_DEPENDENT_ERRORS, golden["sparseml_error"]
        return
    assert plan is not None, [d.message for d in diagnostics]
    assert list(Draft202012Validator(PLAN_SCHEMA).iter_errors(json.loads(plan.to_json()))) == []
    assert (plan.max_epochs, plan.total_steps) == (golden["max_epochs"], golden["total_steps"])
    optimizer = golden["optimizer"]
    ours = expand(plan, golden["params"], optimizer["param_groups"], optimizer["lr"], optimizer["weight_decay"])
    theirs = states(golden["events"], golden["total_steps"])
    for step, (mine, expected) in enumerate(zip(states(ours, plan.total_steps), theirs, strict=True)):
        for key in KEYS:
            assert close(mine[key], expected[key]), (step, key, mine[key], expected[key])
