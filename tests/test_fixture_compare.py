"""Fixture comparison is bitwise where the machine's float fingerprint matches, tolerant and loud elsewhere.

tests/fixture_compare.py decides per fixture topic from its ``fingerprint.json``
(scripts/float_fingerprint.py); RECIPEKIT_BITWISE=1 turns every non-bitwise comparison into a
failure. These tests drive it with synthetic topics, then end to end through a real fixture
test in a subprocess, and guard that every fixture test goes through it.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")

from scripts import float_fingerprint  # noqa: E402
from tests import fixture_compare  # noqa: E402
from tests.fixture_compare import Topic  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = ROOT / "tests" / "fixtures" / "sparseml"


def _topic(tmp_path: Path, recorded: dict[str, Any] | None) -> Topic:
    (tmp_path / "t").mkdir()
    if recorded is not None:
        (tmp_path / "t" / "fingerprint.json").write_text(json.dumps(recorded))
    return Topic("t", root=tmp_path)


def _altered() -> dict[str, Any]:
    recorded = json.loads(json.dumps(fixture_compare.current()))
    recorded["kernels"]["mm_16"] = "0" * 16
    recorded["digest"] = "0" * 16
    return recorded


def _ulp_off(x: torch.Tensor) -> torch.Tensor:
    return torch.nextafter(x, torch.full_like(x, float("inf")))


def test_the_fingerprint_is_stable_and_keyed_on_probes_and_torch() -> None:
    fp = float_fingerprint.fingerprint()
    assert fp == fixture_compare.current()
    assert float_fingerprint.same_floats(fp, fp)
    assert not float_fingerprint.same_floats(None, fp)
    for key, value in (("digest", "0" * 16), ("torch", "2.12.0"), ("version", 0)):
        assert not float_fingerprint.same_floats({**fp, key: value}, fp), key
    assert float_fingerprint.differing(_altered(), fp) == ["mm_16"]
    assert float_fingerprint.differing({**fp, "torch": "2.12.0"}, fp) == ["torch"]


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="ATEN_CPU_CAPABILITY=default is the scalar path on x86 only")
def test_the_scalar_kernels_change_the_fingerprint() -> None:
    """What stands in for another machine here: the fingerprint must see it."""
    script = "import json; from scripts.float_fingerprint import fingerprint; print(json.dumps(fingerprint()))"
    env = {**os.environ, "ATEN_CPU_CAPABILITY": "default"}
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, check=True).stdout
    scalar = json.loads(out)
    assert scalar["cpu_capability"] == "DEFAULT"
    assert scalar["digest"] != fixture_compare.current()["digest"] or fixture_compare.current()["cpu_capability"] == "DEFAULT"


def test_a_matching_fingerprint_compares_bit_for_bit(tmp_path: Path) -> None:
    fix = _topic(tmp_path, fixture_compare.current())
    assert fix.bitwise
    x = torch.tensor([0.1, -2.5, 3.0])
    fix.floats(x.clone(), x)
    with pytest.raises(AssertionError, match=r"\[fixture topic t\] \(3, 'w'\): not bitwise equal"):
        fix.floats(_ulp_off(x), x, (3, "w"))
    assert fix.counts == {"bitwise": 2, "tolerant": 0, "exact": 0, "failed": 1}


@pytest.mark.parametrize("recorded", ["altered", "missing"])
def test_another_fingerprint_compares_within_the_tolerance_and_masks_exactly(tmp_path: Path, recorded: str) -> None:
    fix = _topic(tmp_path, _altered() if recorded == "altered" else None)
    assert not fix.bitwise
    x = torch.tensor([0.1, -2.5, 3.0, 0.0])
    fix.floats(_ulp_off(x), x)  # a last-bit difference passes...
    fix.floats(x * (1 + 0.5 * fixture_compare.RTOL), x)
    with pytest.raises(AssertionError, match=r"differs beyond rtol=0.0001, atol=1e-06"):
        fix.floats(x * (1 + 2 * fixture_compare.RTOL), x)  # ...a bug-sized one does not
    fix.floats(x * (1 + 2 * fixture_compare.RTOL), x, rtol=fixture_compare.FISHER_RTOL)
    with pytest.raises(AssertionError, match=r"torch.float32\[3\] vs torch.float32\[4\]"):
        fix.floats(x[:3], x)
    mask = torch.tensor([1.0, 0.0, 1.0, 1.0])
    fix.exact(mask.clone(), mask)
    with pytest.raises(AssertionError, match=r"\(2, 'mask'\)"):
        fix.exact(torch.tensor([1.0, 1.0, 1.0, 1.0]), mask, (2, "mask"))  # one weight more or less pruned: never tolerated
    with pytest.raises(AssertionError, match="'Identity' != 'Linear'"):
        fix.exact("Identity", "Linear")
    assert fix.largest["abs"] > 0.0


def test_bitwise_required_fails_every_tolerant_comparison(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fixture_compare, "BITWISE_REQUIRED", True)
    fix = _topic(tmp_path, _altered())
    x = torch.tensor([0.1, -2.5])
    with pytest.raises(AssertionError, match=r"RECIPEKIT_BITWISE=1 but topic 't' was made on a machine whose .*\(mm_16\)"):
        fix.floats(x.clone(), x)  # even equal values: the comparison would not have been a bitwise one
    (tmp_path / "t" / "fingerprint.json").write_text(json.dumps(fixture_compare.current()))
    bitwise = Topic("t", root=tmp_path)
    bitwise.floats(x.clone(), x)
    fix.exact(x.clone(), x)  # exact comparisons are bitwise anyway


def _pytest_on(fixtures: Path, *, bitwise: bool) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("RECIPEKIT_BITWISE", "PYTEST_ADDOPTS", "PYTEST_CURRENT_TEST")}
    env["RECIPEKIT_FIXTURES"] = str(fixtures)
    if bitwise:
        env["RECIPEKIT_BITWISE"] = "1"
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "tests/test_acdc.py", "-k", "test_every_step_equals_sparseml"]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)


def test_an_altered_fingerprint_fails_a_real_fixture_test_under_recipekit_bitwise(tmp_path: Path) -> None:
    """A committed fixture with another machine's fingerprint: tolerant (said once), and a failure with RECIPEKIT_BITWISE=1."""
    (tmp_path / "acdc").mkdir()
    shutil.copy(COMMITTED / "acdc" / "acdc_s1_e6.pt", tmp_path / "acdc")
    (tmp_path / "acdc" / "fingerprint.json").write_text(json.dumps(_altered()))
    tolerant = _pytest_on(tmp_path, bitwise=False)
    assert tolerant.returncode == 0, tolerant.stdout[-3000:]
    assert "1 passed" in tolerant.stdout
    assert tolerant.stdout.lower().count("bitwise comparison needs fixtures made on this machine") == 1
    assert re.search(r"acdc: largest difference \S+ \(\d+% of the tolerance\); probes that differ: mm_16", tolerant.stdout)
    strict = _pytest_on(tmp_path, bitwise=True)
    assert strict.returncode == 1, strict.stdout[-3000:]
    assert "1 failed" in strict.stdout
    assert "RECIPEKIT_BITWISE=1 but topic 'acdc' was made on a machine whose float fingerprint differs" in strict.stdout


def test_every_committed_topic_records_its_fingerprint() -> None:
    topics = sorted(p.name for p in COMMITTED.iterdir() if p.is_dir())
    assert topics
    for name in topics:
        recorded = json.loads((COMMITTED / name / float_fingerprint.FILENAME).read_text())
        assert set(recorded) >= {"version", "digest", "torch", "kernels"}, name


def test_fixture_tests_read_fixtures_only_through_fixture_compare() -> None:
    """The guard against the next non-portable fixture test: no direct read, no bare torch.equal against a fixture."""
    offenders = []
    for path in sorted((ROOT / "tests").glob("*.py")):
        if path.name in ("fixture_compare.py", "test_fixture_compare.py"):
            continue
        text = path.read_text(encoding="utf-8")
        if re.search(r"""["']fixtures["']\s*/\s*["']sparseml|fixtures/sparseml/\w*["']""", text):
            offenders.append(path.name)
    assert offenders == [], f"read SparseML fixtures through tests/fixture_compare.py (topic(...).load/floats/exact): {offenders}"


def test_the_fixture_script_runs_with_no_topic_argument() -> None:
    """Python 3.11's argparse used to reject the empty default of nargs='*' against choices: 'invalid choice: []'."""
    script = [sys.executable, "scripts/make_sparseml_fixtures.py"]
    every = subprocess.run([*script, "--list"], cwd=ROOT, capture_output=True, text=True, check=False)
    assert every.returncode == 0, every.stderr
    assert every.stdout.split()[:2] == ["conformance", "algorithms"]
    assert sorted(every.stdout.split()) == sorted(p.name for p in COMMITTED.iterdir() if p.is_dir())  # each topic committed
    some = subprocess.run([*script, "--list", "mfac", "acdc"], cwd=ROOT, capture_output=True, text=True, check=False)
    assert (some.returncode, some.stdout.split()) == (0, ["mfac", "acdc"])
    wrong = subprocess.run([*script, "mfac", "nope"], cwd=ROOT, capture_output=True, text=True, check=False)
    assert wrong.returncode == 2
    assert "error: unknown topic 'nope' (choose from conformance, algorithms, acdc, " in wrong.stderr
