"""Gradient samples for OBS and M-FAC, with SparseML 1.8's ``GradSampler`` contract (reference §1).

The loop supplies a :class:`GradSampler`: ``data(kwargs)`` is called once at
attach with the recipe's ``grad_sampler_kwargs`` (or None) and returns an iterable
of ``(args, kwargs, target)`` items, or a zero-argument callable returning a
fresh one (then every pruning step starts a new pass); ``loss(outputs, target)``
returns a scalar. One item is one gradient sample. A sampler made with ``step=`` instead
takes its loss from a training step: each item is a batch and ``step(batch)`` returns the
loss (a trainer whose loss lives in ``training_step``, not in the model's outputs).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import torch

Item = tuple[list[Any], dict[str, Any], Any]


class GradSampler:
    """What OBS and M-FAC draw their gradient samples from.

    ``data`` is SparseML's ``data_loader_builder`` and ``loss`` its ``loss_function``;
    ``GradSampler.from_sparseml({"data_loader_builder": ..., "loss_function": ...})``
    takes the dict SparseML's ``manager.modify(grad_sampler=...)`` took.
    """

    def __init__(
        self,
        data: Callable[[dict[str, Any] | None], Any],
        loss: Callable[[Any, Any], torch.Tensor] | None = None,
        *,
        step: Callable[[Any], torch.Tensor] | None = None,
    ) -> None:
        if not callable(data) or (loss is None) == (step is None) or not callable(loss or step):
            raise TypeError(
                "GradSampler(data, loss) or GradSampler(data, step=...): callables, and exactly one of loss and step "
                "(see docs/runtime.md, 'Gradient samples')"
            )
        self.data = data
        self.loss = loss
        self.step = step

    @classmethod
    def from_sparseml(cls, spec: Mapping[str, Any]) -> GradSampler:
        return cls(spec["data_loader_builder"], spec["loss_function"])

    def open(self, kwargs: dict[str, Any] | None) -> Source:
        built = self.data(kwargs)
        if not callable(built) and not isinstance(built, Iterable):
            raise TypeError(f"the grad sampler's data({kwargs!r}) returned {type(built).__name__}, not an iterable or a callable")
        return Source(built, self.loss, self.step)


class Source:
    """One opened sampler: what a pruning instruction draws from at each of its updates."""

    def __init__(
        self, built: Any, loss: Callable[[Any, Any], torch.Tensor] | None, step: Callable[[Any], torch.Tensor] | None = None
    ) -> None:
        self.built = built
        self.loss = loss
        self.step = step

    def backwards(self, model: torch.nn.Module, count: int, where: str) -> Iterator[int]:
        """Run up to ``count`` forward/backward passes, yielding after each with the model's grads set.

        As SparseML: ``zero_grad`` (grads to None) before each sample and once at the end, a plain
        ``tuple`` output is reduced to its first item, and a short iterable gives fewer samples
        (with a warning) rather than restarting.
        """
        done = 0
        items = self.built() if callable(self.built) else self.built
        with torch.enable_grad():
            for item in items:
                model.zero_grad(set_to_none=True)
                self._loss(model, item).backward()  # type: ignore[no-untyped-call]
                done += 1
                yield done
                if done >= count:
                    break
        model.zero_grad(set_to_none=True)
        if done == 0:
            raise RuntimeError(
                f"{where}: the grad sampler gave no gradient samples; if its data is a generator it is exhausted: "
                "return a zero-argument callable that makes a fresh iterable (SparseML crashed here)"
            )
        if done < count:
            warnings.warn(
                f"{where}: the grad sampler gave {done} gradient samples, not {count}; continuing with fewer (as SparseML)", stacklevel=2
            )

    def _loss(self, model: torch.nn.Module, item: Any) -> torch.Tensor:
        if self.step is not None:
            return self.step(item)
        assert self.loss is not None
        args, kwargs, target = item
        outputs = model(*args, **kwargs)
        if outputs.__class__ is tuple:
            outputs = outputs[0]
        return self.loss(outputs, target)
