"""The torch runtime: replay a compiled plan inside an unchanged training loop.

    runner = recipekit.runtime.attach("plan.json", model, optimizer)
    for batch in loader:
        loss = model(batch).sum(); loss.backward(); optimizer.step(); optimizer.zero_grad()
    runner.finalize()

Imports nothing from recipekit but the plan model, and torch.
"""

from recipekit.plan.model import PlanError
from recipekit.runtime.algorithms.sampling import GradSampler
from recipekit.runtime.misuse import RecipeRuntimeWarning
from recipekit.runtime.runner import DistillationSkipped, PlanRunner, RuntimeRefusal, attach

__all__ = ["DistillationSkipped", "GradSampler", "PlanError", "PlanRunner", "RecipeRuntimeWarning", "RuntimeRefusal", "attach"]
