#!/usr/bin/env bash
# Set up a virtual environment (idempotent) and run every check: ruff, mypy, pytest.
# This is the README's test command and exactly what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev,torch,onnx,transformers,lightning,lsp
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/pytest
# The fixture tests again on the scalar float path (ATEN_CPU_CAPABILITY=default): another machine's
# float behaviour on any x86 CPU. They must pass there within their stated tolerance, not only bit
# for bit where the fixtures were made (tests/fixture_compare.py; ~15 s).
mapfile -t FIXTURE_TESTS < <(grep -l "fixture_compare" tests/test_*.py)
ATEN_CPU_CAPABILITY=default .venv/bin/pytest -p no:cacheprovider "${FIXTURE_TESTS[@]}"
