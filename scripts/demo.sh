#!/usr/bin/env bash
# Set up a virtual environment (idempotent) and run the main job on the bundled example:
# lint the example recipes, compile the seed recipe into a plan and show its schedule.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check -e .
.venv/bin/recipe-lint examples/
mkdir -p build
.venv/bin/recipekit compile examples/recipe.yaml --steps-per-epoch 10 -o build/plan.json
.venv/bin/recipekit show build/plan.json
