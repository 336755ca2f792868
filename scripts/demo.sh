#!/usr/bin/env bash
# Set up a virtual environment (idempotent) and run the main job on the bundled example:
# lint the recipes, compile the seed recipe into a plan, show its schedule, train with it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh torch
.venv/bin/recipe-lint examples/
mkdir -p build
.venv/bin/recipekit compile examples/recipe.yaml --steps-per-epoch 8 -o build/plan.json
.venv/bin/recipekit show build/plan.json
.venv/bin/python examples/train_tiny.py build/plan.json
