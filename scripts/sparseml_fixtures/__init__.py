"""Fixture topics for scripts/make_sparseml_fixtures.py; each module runs SparseML 1.8.0 (never imported by recipekit)."""
