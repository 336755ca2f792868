#!/usr/bin/env bash
# Set up .venv (idempotent) with recipekit installed editable with the given extras, e.g.
# `bash scripts/setup.sh dev,torch`. Used by demo.sh and test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
# Pinned first: an unpinned torch requirement would pull several GB of CUDA wheels.
.venv/bin/pip install --quiet --disable-pip-version-check torch==2.13.0
# torch pinned again on the extras' line, so no extra (lightning, accelerate) can move it.
.venv/bin/pip install --quiet --disable-pip-version-check torch==2.13.0 -e ".[$1]"
