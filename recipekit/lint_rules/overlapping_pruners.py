"""Two pruning modifiers on the same parameter over overlapping epochs.

Their masks multiply: the parameter ends up sparser than either modifier says,
and each modifier's schedule is wrong. With a parameter manifest the check
resolves `re:` patterns; without one it compares the names written.

Bad:

```yaml
modifiers:
  - !GMPruningModifier
    params: [conv1.weight]
    init_sparsity: 0.05
    final_sparsity: 0.8
    start_epoch: 0.0
    end_epoch: 10.0
    update_frequency: 1.0
  - !GMPruningModifier
    params: [conv1.weight]
    init_sparsity: 0.05
    final_sparsity: 0.9
    start_epoch: 5.0
    end_epoch: 15.0
    update_frequency: 1.0
```

Good:

```yaml
modifiers:
  - !GMPruningModifier
    params: [conv1.weight]
    init_sparsity: 0.05
    final_sparsity: 0.8
    start_epoch: 0.0
    end_epoch: 10.0
    update_frequency: 1.0
  - !GMPruningModifier
    params: [conv2.weight]
    init_sparsity: 0.05
    final_sparsity: 0.9
    start_epoch: 5.0
    end_epoch: 15.0
    update_frequency: 1.0
```
"""

from __future__ import annotations

from collections.abc import Iterator

from recipekit.diagnostics import Severity
from recipekit.lint_rules._context import GRADUAL_PRUNERS, Finding, LintContext, epoch_range, overlap

CODE = "L316"
NAME = "overlapping-pruners"
SEVERITY = Severity.WARNING


def check(ctx: LintContext) -> Iterator[Finding]:
    pruners = ctx.of_type(*GRADUAL_PRUNERS, "ACDCPruningModifier", "RigLPruningModifier", "TopKASTPruningModifier")
    for i, later in enumerate(pruners):
        for earlier in pruners[:i]:
            if not overlap(epoch_range(earlier, ctx.training_end), epoch_range(later, ctx.training_end)):
                continue
            shared = ctx.shared(earlier, later)
            if shared:
                related = (("the other pruning modifier", earlier.span),)
                more = f" (+{len(shared) - 1} more)" if len(shared) > 1 else ""
                message = f"{shared[0]}{more} is pruned by two modifiers over overlapping epochs; their masks multiply"
                yield Finding(ctx.span_of(later, "params") if "params" in later.params else later.span, message, related)
