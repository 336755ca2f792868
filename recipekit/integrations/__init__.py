"""One-line recipekit callbacks for training frameworks.

``recipekit.integrations.transformers.RecipeCallback`` (Hugging Face ``Trainer``) and
``recipekit.integrations.lightning.RecipeCallback`` (Lightning ``Trainer``). Each module imports
its framework only when a callback is used, so importing recipekit never needs them.
"""
