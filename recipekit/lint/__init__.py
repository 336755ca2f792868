"""The lint engine: the driver, configuration, suppressions, fixes, the report and the rule docs.

A face only: importing ``recipekit.lint.linter`` runs this file, so it imports
nothing (``recipe-lint``'s cold start; see docs/architecture.md).
"""
