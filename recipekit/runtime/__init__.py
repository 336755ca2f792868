"""The torch runtime that replays compiled plans (not written yet).

It will import nothing from recipekit but the plan model, and torch.
"""
