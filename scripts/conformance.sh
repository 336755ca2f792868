#!/usr/bin/env bash
# Prove recipekit bit for bit equal to SparseML 1.8.0 on THIS machine (not part of CI: it needs SparseML).
#
# 1. builds a separate SparseML environment from scripts/sparseml-requirements.txt (once, in
#    ~/.cache/recipekit/sparseml-venv; SPARSEML_VENV=DIR uses or builds another; PYTHON=python3.11
#    picks its interpreter: SparseML 1.8.0 needs Python 3.8-3.11),
# 2. regenerates every fixture topic into a temporary directory (never over tests/fixtures/),
# 3. runs every fixture test against them with RECIPEKIT_BITWISE=1 (any comparison that is not
#    bitwise is a failure), and prints one line per topic and a summary. Exit status 0: every
#    topic bitwise equal.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
SPARSEML_VENV=${SPARSEML_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/recipekit/sparseml-venv}
if [ ! -x "$SPARSEML_VENV/bin/python" ]; then
    echo "building the SparseML environment in $SPARSEML_VENV (scripts/sparseml-requirements.txt)"
    mkdir -p "$(dirname "$SPARSEML_VENV")"
    "$PYTHON" -m venv "$SPARSEML_VENV"
    "$SPARSEML_VENV/bin/pip" install --quiet --disable-pip-version-check torch==2.13.0
    "$SPARSEML_VENV/bin/pip" install --quiet --disable-pip-version-check -r scripts/sparseml-requirements.txt
fi
"$SPARSEML_VENV/bin/python" -W ignore -c '
import sys, sparseml, torch
found = (sparseml.__version__, torch.__version__.split("+")[0])
sys.exit(0 if found == ("1.8.0", "2.13.0") else f"{sys.argv[0]}: need sparseml 1.8.0 and torch 2.13.0, found {found}")'
[ -x .venv/bin/pytest ] || bash scripts/setup.sh dev,torch

WORK=$(mktemp -d "${TMPDIR:-/tmp}/recipekit-conformance.XXXXXX")
echo "regenerating every fixture topic into $WORK/fixtures"
if ! NM_DISABLE_ANALYTICS=1 NM_TEST_MODE=1 "$SPARSEML_VENV/bin/python" scripts/make_sparseml_fixtures.py --out "$WORK/fixtures" \
    >"$WORK/generate.log" 2>&1; then
    tail -n 30 "$WORK/generate.log"
    echo "conformance: the fixture script failed (log: $WORK/generate.log)"
    exit 1
fi
# Every test module that compares against fixtures goes through tests/fixture_compare.py
# (tests/test_fixture_compare.py guards that), so this finds the tests of new topics too.
mapfile -t TESTS < <(grep -l "fixture_compare" tests/test_*.py | grep -v "tests/test_fixture_compare.py")
status=0
RECIPEKIT_FIXTURES="$WORK/fixtures" RECIPEKIT_BITWISE=1 RECIPEKIT_FIXTURE_LOG="$WORK/comparisons.jsonl" \
    .venv/bin/pytest -p no:cacheprovider "${TESTS[@]}" >"$WORK/pytest.log" 2>&1 || status=$?
result=0
.venv/bin/python - "$WORK" "$status" <<'PY' || result=$?
import json, re, sys
from pathlib import Path

work, status = Path(sys.argv[1]), int(sys.argv[2])
logged = {}
log = work / "comparisons.jsonl"
for line in log.read_text().splitlines() if log.exists() else []:
    record = json.loads(line)
    logged[record["topic"]] = record
topics = sorted(p.name for p in (work / "fixtures").iterdir() if p.is_dir())
ok = 0
for topic in topics:
    r = logged.get(topic)
    if r is None:
        line = "NOT CHECKED: no test compared against it"
    elif r["failed"]:
        tests = ", ".join(t.split("::", 1)[-1] for t in r["failed_tests"][:3])
        more = f" and {len(r['failed_tests']) - 3} more" if len(r["failed_tests"]) > 3 else ""
        line = f"FAILED: {r['failed']} comparisons failed (in {tests}{more})"
    elif not r["bitwise"]:
        line = "NOT BITWISE: this machine's float fingerprint differs from the one recorded while regenerating"
    else:
        ok += 1
        line = f"bitwise equal: {r['bitwise']} float comparisons bit for bit, {r['exact']} masks/decisions exact"
    print(f"{topic:<16} {line}")
tail = [l for l in (work / "pytest.log").read_text().splitlines() if re.search(r"\d+ (passed|failed|error)", l)][-1:]
prints = [work / "fixtures" / t / "fingerprint.json" for t in topics]
fp = next((json.loads(p.read_text()) for p in prints if p.exists()), {})
where = f"{fp.get('cpu')}, {fp.get('cpu_capability')}, torch {fp.get('torch')}, fingerprint {fp.get('digest')}"
verdict = "every topic bitwise equal" if ok == len(topics) and status == 0 else "NOT bitwise equal"
print(f"conformance: {ok} of {len(topics)} topics bitwise equal to SparseML 1.8.0 run on this machine ({where}); "
      f"pytest: {tail[0] if tail else '?'} -> {verdict}")
sys.exit(0 if ok == len(topics) and status == 0 else 1)
PY
if [ "$result" -eq 0 ]; then
    rm -rf "$WORK"
else
    echo "kept $WORK (generate.log, pytest.log, fixtures/)"
fi
exit "$result"
