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
