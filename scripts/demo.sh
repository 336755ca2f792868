#!/usr/bin/env bash
# Set up a virtual environment (idempotent) and run the main job on the bundled example:
# lint the example recipes, then print the resolved recipe SparseML would have loaded.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check -e .
.venv/bin/recipe-lint examples/
.venv/bin/recipekit normalize examples/recipe.yaml
