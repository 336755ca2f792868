"""Lint rules, one module per rule (see the recipe-lint issue).

The rule engine and its rules are not written yet: today `recipe-lint`
reports the front-end's parse, structure and schema diagnostics only.
"""
