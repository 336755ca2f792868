"""The pruning algorithms a ``prune`` instruction's ``score`` names, with their state across steps.

The runner keeps one scorer per non-magnitude ``prune`` instruction. At each of
the instruction's updates it asks the scorer for new keep-masks given the
per-parameter targets; the scorer may change the weights first (OBS's
compensation), as SparseML did between scoring and applying the mask. Movement
also sees every step (:meth:`Scorer.every_step`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch

from recipekit.plan.ops import PruneOp
from recipekit.plan.schedule import interpolate
from recipekit.runtime.algorithms import mask_creators, mfac, movement, obs, structured
from recipekit.runtime.algorithms.sampling import Source

MaskOf = Callable[[str], "torch.Tensor | None"]


class Scorer:
    def __init__(self, instruction: PruneOp, names: list[str], params: Mapping[str, torch.Tensor]) -> None:
        self.instruction = instruction
        # Read by key whatever the kind; the compiler wrote the fields each kind needs (plan/ops.py Score).
        self.score: dict[str, Any] = dict(instruction["score"])
        self.names = names
        self.params = [params[n] for n in names]

    def every_step(self) -> None:
        """Called before every optimizer step, before any mask update of that step."""

    def update(self, targets: list[float], mask_of: MaskOf) -> list[torch.Tensor]:
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Nothing to restore by default."""


def _current(param: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    return torch.ones_like(param) if mask is None else mask


class Movement(Scorer):
    def __init__(self, instruction: PruneOp, names: list[str], params: Mapping[str, torch.Tensor]) -> None:
        super().__init__(instruction, names, params)
        self.scores = [torch.zeros_like(p, memory_format=torch.contiguous_format) for p in self.params]

    def every_step(self) -> None:
        with torch.no_grad():
            for score, param in zip(self.scores, self.params, strict=True):
                movement.accumulate(score, param)

    def update(self, targets: list[float], mask_of: MaskOf) -> list[torch.Tensor]:
        mask_type = str(self.instruction["mask_type"])  # OBS takes unstructured or block4 (refused otherwise at compile)
        create = mask_creators.four_block if mask_type == "block4" else mask_creators.unstructured
        return create(self.scores, targets, self.instruction["global_sparsity"])

    def state_dict(self) -> dict[str, Any]:
        # SparseML lost these on resume; keeping them makes a resumed run bitwise equal to an unbroken one.
        return {"movement_scores": [s.clone() for s in self.scores]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for score, saved in zip(self.scores, state["movement_scores"], strict=True):
            score.copy_(saved)


class GroupL2(Scorer):
    def __init__(self, instruction: PruneOp, names: list[str], params: Mapping[str, torch.Tensor]) -> None:
        super().__init__(instruction, names, params)
        index = {name: i for i, name in enumerate(names)}
        groups: list[list[int]] = []
        seen: set[int] = set()
        for group in self.score["param_groups"]:
            members = []
            for name in group:
                if name not in index or index[name] in seen:
                    # Checked at attach (runner._check_scores); unreachable here.
                    raise ValueError(f"param_groups member {name!r} is not a pruned parameter or repeats")
                members.append(index[name])
                seen.add(index[name])
            groups.append(members)
        groups.extend([i] for i in range(len(names)) if i not in seen)
        self.groups = groups

    def update(self, targets: list[float], mask_of: MaskOf) -> list[torch.Tensor]:
        return structured.masks([p.data for p in self.params], targets, self.score["structure"], self.groups)


class OBS(Scorer):
    """SparseML's OBSPruningModifier update: R rounds of (sample, Fisher, score, mask, compensate)."""

    def __init__(
        self, instruction: PruneOp, names: list[str], params: Mapping[str, torch.Tensor], model: torch.nn.Module, source: Source
    ) -> None:
        super().__init__(instruction, names, params)
        self.model = model
        self.source = source
        self.last: list[float] | None = None  # the previous update's targets; 0.0 before the first

    def update(self, targets: list[float], mask_of: MaskOf) -> list[torch.Tensor]:
        score = self.score
        rounds = score["num_recomputations"]
        last = self.last or [0.0] * len(targets)
        mask_type = str(self.instruction["mask_type"])  # OBS takes unstructured or block4 (refused otherwise at compile)
        create = mask_creators.four_block if mask_type == "block4" else mask_creators.unstructured
        masks = [_current(p, mask_of(n)) for p, n in zip(self.params, self.names, strict=True)]
        training = self.model.training
        for i in range(1, rounds + 1):
            self.model.eval()  # dropout off, BatchNorm on running statistics while sampling
            finvs = [
                obs.BlockFisherInverse(score["num_grads"], score["fisher_block_size"], p.numel(), score["damp"], p.device)
                for p in self.params
            ]
            for _ in self.source.backwards(self.model, score["num_grads"], _where(self.instruction)):
                with torch.no_grad():
                    for param, mask, finv in zip(self.params, masks, finvs, strict=True):
                        assert param.grad is not None
                        param.grad.mul_(mask)
                        finv.add_grad(param.grad.reshape(-1))
            if training:
                self.model.train()
            step_targets = [interpolate(i, 0, rounds, a, b, "linear") for a, b in zip(last, targets, strict=True)]
            with torch.no_grad():
                scored = [obs.scores(p.data, f, m, mask_type) for p, f, m in zip(self.params, finvs, masks, strict=True)]
                new = create([s for s, _ in scored], step_targets, self.instruction["global_sparsity"])
                for param, finv, old, mask, (_, solved) in zip(self.params, finvs, masks, new, scored, strict=True):
                    pruned = mask_creators.mask_difference(old, mask)
                    obs.apply_update(param.data, obs.update(param.data, finv, pruned, mask_type, solved), pruned)
                    param.data.mul_(mask)  # SparseML applies the mask before the next round samples
            masks = new
        self.last = list(targets)
        return masks

    def state_dict(self) -> dict[str, Any]:
        return {"last_targets": self.last}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.last = state["last_targets"]


class MFAC(Scorer):
    """SparseML's MFACPruningModifier update (reference §3): gradients, Fisher inverse, scores, mask, compensation.

    The gradients fill a ring buffer (:class:`~recipekit.runtime.algorithms.mfac.Ring`) sized by
    the ``num_grads`` of the last masks' actual sparsity. With a ``source`` (sampler mode) each
    update draws ``num_grads`` of the previous *targets* through the grad sampler, in eval mode,
    and clears the gradients, so that step's optimizer update does nothing (as SparseML's). Without
    one (buffering mode) every training step from attach writes its gradient, as backward masked
    it, and an update with fewer than ``num_grads`` since the last one fails as SparseML's did.
    The masks are the algorithm's own (all ones before its first update), as SparseML's were.
    """

    def __init__(
        self, instruction: PruneOp, names: list[str], params: Mapping[str, torch.Tensor], model: torch.nn.Module, source: Source | None
    ) -> None:
        super().__init__(instruction, names, params)
        self.model = model
        self.source = source
        self.masks = [torch.ones_like(p) for p in self.params]
        self.last_targets: list[float] | None = None
        self.last_sparsity = 0.0  # zeros / elements of the masks the last update made
        self.ring: mfac.Ring | None = None
        self.mask_type = str(instruction["mask_type"])  # unstructured or block4 (attach refuses others)
        self.step = 0

    def _num_grads(self, sparsity: float) -> int:
        return mfac.num_grads_for(self.score["num_grads"], sparsity)

    def _buffer(self) -> None:
        if any(p.grad is None for p in self.params):
            return  # as SparseML: a backward that left some pruned tensor without a gradient is not buffered
        if self.ring is None:
            self.ring = mfac.Ring(self.masks, self._num_grads(self.last_sparsity))
        self.ring.add([p.grad for p in self.params])  # type: ignore[misc]

    def every_step(self) -> None:
        if self.source is None:
            with torch.no_grad():
                self._buffer()
        self.step += 1

    def update(self, targets: list[float], mask_of: MaskOf) -> list[torch.Tensor]:
        where = _where(self.instruction)
        if self.source is not None:
            last = self.last_targets
            # SparseML's `_applied_sparsity or 0.0`: one target, or the mean of per-parameter ones.
            drawn = (
                0.0 if last is None else (last[0] if not isinstance(self.instruction["final_sparsity"], dict) else sum(last) / len(last))
            )
            training = self.model.training
            self.model.eval()  # dropout off, BatchNorm on running statistics while sampling
            for _ in self.source.backwards(self.model, self._num_grads(drawn), where):
                with torch.no_grad():
                    self._buffer()
            if training:
                self.model.train()
        needed = self._num_grads(self.last_sparsity)
        ring = self.ring
        if ring is None or ring.collected < needed:
            raise RuntimeError(
                f"{where}: M-FAC update at step {self.step - 1} has {0 if ring is None else ring.collected} gradients, "
                f"num_grads asks for {needed} (SparseML raised RuntimeError here too); buffering mode collects one per training step"
            )
        with torch.no_grad():
            weights = [p.data for p in self.params]
            finv = mfac.inverse(ring.buffer, self.score["fisher_block_size"], self.score["damp"])
            scores, diag = mfac.scores(weights, ring, finv)
            create = mask_creators.four_block if self.mask_type == "block4" else mask_creators.unstructured
            new = create(scores, targets, self.instruction["global_sparsity"])
            self.last_sparsity = mfac.sparsity(new)
            pruned = [mask_creators.mask_difference(old, mask) for old, mask in zip(self.masks, new, strict=True)]
            mfac.compensate(weights, pruned, ring, finv, diag)
        self.masks = new
        self.ring = mfac.Ring(new, self._num_grads(self.last_sparsity))
        self.last_targets = list(targets)
        return new

    def state_dict(self) -> dict[str, Any]:
        # SparseML lost its buffer on resume; keeping it makes a resumed run equal an unbroken one.
        return {
            "masks": [m.clone() for m in self.masks],
            "last_targets": self.last_targets,
            "last_sparsity": self.last_sparsity,
            "ring": None if self.ring is None else self.ring.state_dict(),
            "step": self.step,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.masks = [m.clone() for m in state["masks"]]
        self.last_targets = state["last_targets"]
        self.last_sparsity = float(state["last_sparsity"])
        self.step = int(state["step"])
        self.ring = None
        if state["ring"] is not None:
            self.ring = mfac.Ring(self.masks, 1)
            self.ring.load_state_dict(state["ring"])


def _where(instruction: PruneOp) -> str:
    origin = instruction["origin"]
    return f"{origin['path']}:{origin['line']}:{origin['column']} ({origin['modifier']})"
