"""Every real v1 recipe in ../shared/corpus loads into SparseML 1.8's values.

Skipped when ../shared is absent (a fresh clone).  The expectations below name
files and diagnostic codes only; the recipes themselves stay in ../shared.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from recipekit.compiler import load_file
from recipekit.compiler.normalize import normalize
from recipekit.diagnostics import Severity
from tests.helpers import CORPUS, GOLDEN

pytestmark = pytest.mark.skipif(not (CORPUS / "MANIFEST.tsv").is_file(), reason="../shared/corpus is not available")

#: Recipes SparseML 1.8 could not load, and the (line, code) of the errors we report instead.
REFUSED = {
    # `*pruning_recovery_end_lr` has no anchor (the recipe-broken row of the manifest).
    "sparseml/integrations__old-examples__pytorch__recipes__mobilenet-pruned_quant.md": [(62, "P108")],
    # `available_gpus` is not a parameter of MFACPruningModifier (it is `available_devices`).
    "sparseml/research__mfac__recipes__pruning-mobilenet-imagenette-mfac-short-95.md": [(55, "S203")],
    # Legacy modifier names, unregistered since 2021.
    "sparseml/scripts__pytorch__configs__pruning_han_mobilenet.yaml": [(20, "S202"), (33, "S202"), (45, "S202")],
    "sparseml/scripts__pytorch__configs__pruning_inceptionv3.yaml": [(20, "S202"), (51, "S202"), (94, "S202")],
    "sparseml/scripts__pytorch__configs__pruning_mobilenet.yaml": [(20, "S202"), (33, "S202"), (45, "S202")],
    "sparseml/scripts__pytorch__configs__pruning_resnet50.yaml": [(20, "S202"), (38, "S202"), (70, "S202")],
    "sparseml/scripts__pytorch__configs__pruning_ssd300_resnet50.yaml": [(20, "S202"), (45, "S202"), (81, "S202")],
    "sparseml/scripts__pytorch__configs__pruning_vgg16.yaml": [(20, "S202"), (29, "S202"), (42, "S202"), (55, "S202")],
    "sparseml/scripts__pytorch__configs__pruning_vgg19.yaml": [(20, "S202"), (29, "S202"), (43, "S202"), (58, "S202")],
    "sparseml/scripts__pytorch__configs__quantization.yaml": [(18, "S202")],
}


def v1_recipes() -> Iterator[tuple[str, str]]:
    with (CORPUS / "MANIFEST.tsv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            if row["format"] == "v1":
                yield row["file"], row["kind"]


def props_of(name: str) -> dict[str, Any]:
    path = GOLDEN / "props" / f"{name}.props.json"
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document


def test_every_v1_recipe_loads_or_is_refused_precisely() -> None:
    seen = 0
    for name, kind in v1_recipes():
        seen += 1
        _, diagnostics = load_file(CORPUS / name)
        errors = [(d.location.line, d.code) for d in diagnostics if d.severity is Severity.ERROR]
        assert errors == REFUSED.get(name, []), name
        assert (kind == "recipe-broken") <= (name in REFUSED)
    assert seen == 94


def test_refused_recipes_are_exactly_those_sparseml_could_not_load() -> None:
    refused_by_sparseml = {name for name, _ in v1_recipes() if "sparseml_error" in props_of(name)}
    assert refused_by_sparseml == set(REFUSED)


# Deliberate differences from what SparseML's loaded objects report (docs/recipe-format.md):
# - QuantizationModifier.submodules: SparseML stores a set, so its order is arbitrary; we keep file order.
# - MFACPruningModifier.available_devices: SparseML fills in the devices of the machine it runs on
#   (["cpu"] on the CPU machine that made these files); we keep null and decide at run time.
# - LearningRateModifier ExponentialLR: SparseML rewrites it to StepLR(step_size=1.0); we keep the class.
def sparseml_view(modifier: dict[str, Any]) -> dict[str, Any]:
    view = dict(modifier)
    if isinstance(view.get("submodules"), list):
        view["submodules"] = sorted(view["submodules"])
    if view["type"] == "MFACPruningModifier" and view.get("available_devices") is None:
        view["available_devices"] = ["cpu"]
    if view.get("lr_class") == "ExponentialLR":
        view["lr_class"] = "StepLR"
        view["lr_kwargs"] = {**view["lr_kwargs"], "step_size": 1.0}
    return view


def same(ours: Any, theirs: Any) -> bool:
    """Equal values of equal types: 1 and 1.0 differ, as they did for SparseML's validators."""
    if isinstance(theirs, dict):
        return isinstance(ours, dict) and ours.keys() == theirs.keys() and all(same(ours[k], theirs[k]) for k in theirs)
    if isinstance(theirs, list):
        return isinstance(ours, list) and len(ours) == len(theirs) and all(same(a, b) for a, b in zip(ours, theirs, strict=True))
    return type(ours) is type(theirs) and ours == theirs


def test_effective_values_equal_sparseml() -> None:
    compared = 0
    for name, _ in v1_recipes():
        props = props_of(name)
        if "sparseml_error" in props:
            continue
        recipe, _ = load_file(CORPUS / name)
        assert recipe is not None, name
        ours = [sparseml_view(m) for m in normalize(recipe)["modifiers"]]
        assert len(ours) == len(props["modifiers"]), name
        unmatched = list(ours)
        for loaded in props["modifiers"]:
            theirs = dict(loaded)
            if isinstance(theirs.get("submodules"), list):
                theirs["submodules"] = sorted(theirs["submodules"])
            match = next((m for m in unmatched if all(k in m and same(m[k], v) for k, v in theirs.items())), None)
            assert match is not None, (name, theirs)
            unmatched.remove(match)
            compared += 1
    assert compared > 1700


def test_corpus_files_are_read_from_shared_not_copied() -> None:
    tests = Path(__file__).parent
    assert not any(p.suffix in (".gz",) or "__recipes__" in p.name for p in tests.rglob("*"))
