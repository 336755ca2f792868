"""OBS (or M-FAC with a grad sampler) pruning so often that many optimizer updates are lost.

To score weights, SparseML's OBS and M-FAC draw gradient samples inside the training
step, and the sampler's final `zero_grad()` sets every `.grad` to None: the optimizer
step in progress then updates nothing (no weight change, momentum or weight decay).
The recipekit runtime does the same, so a run reproduces SparseML. When the pruning
steps come at least one optimizer step in ten (judged with `--steps-per-epoch`; every
step for `update_frequency` -1 or 0), that is a tenth of training lost, plus
`num_grads` forward/backward passes per pruning step. M-FAC without a sampler
(`use_gradient_buffering: true`) buffers the training gradients and loses nothing.

Steps per epoch: 100

Bad:

```yaml
modifiers:
  - !OBSPruningModifier
    params: ["re:.*weight"]
    init_sparsity: 0.5
    final_sparsity: 0.8
    start_epoch: 1.0
    end_epoch: 3.0
    update_frequency: 0.01
    fisher_block_size: 50
```

Good:

```yaml
modifiers:
  - !OBSPruningModifier
    params: ["re:.*weight"]
    init_sparsity: 0.5
    final_sparsity: 0.8
    start_epoch: 1.0
    end_epoch: 3.0
    update_frequency: 0.5
    fisher_block_size: 50
```
"""

from __future__ import annotations

from collections.abc import Iterator

from recipekit.compiler import traps
from recipekit.diagnostics import Severity
from recipekit.lint_rules._context import Finding, LintContext

# One check, two commands: `recipekit compile` warns with this code too (compiler/traps.py).
CODE = traps.SAMPLING_SKIPS_OPTIMIZER
NAME = traps.NAMES[CODE]
SEVERITY = Severity.WARNING
COMPILE = "warns"


def check(ctx: LintContext) -> Iterator[Finding]:
    for modifier in ctx.recipe.modifiers:
        for span, message in traps.sampling_skips_optimizer(modifier, ctx.steps_per_epoch):
            yield Finding(span, message)
