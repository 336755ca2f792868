"""Parameters sharded by FSDP2 (``torch.distributed.fsdp.fully_shard``): DTensors.

A DTensor cannot be multiplied by a plain tensor, and a top-k over one rank's shard is not
the top-k over the tensor (ecosystem.md §3.3). So the runtime keeps each mask as the local
shard of the parameter it prunes (memory stays sharded), computes a new mask from the full
tensor, gathered one parameter at a time, and cuts it into shards from rank 0's copy, so the
ranks cannot disagree. For a plain tensor every function here is the identity.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch


def _dtensor_type() -> Any:
    if not torch.distributed.is_available():
        return None
    from torch.distributed.tensor import DTensor

    return DTensor


def is_sharded(tensor: Any) -> bool:
    dtensor = _dtensor_type()
    return dtensor is not None and isinstance(tensor, dtensor)


def names(params: Mapping[str, torch.Tensor]) -> set[str]:
    """The names of the sharded parameters among ``params``."""
    return {name for name, param in params.items() if is_sharded(param)}


def local(tensor: torch.Tensor) -> torch.Tensor:
    """This rank's part of ``tensor`` (the tensor itself unless sharded); in-place changes reach the parameter."""
    return tensor.to_local() if is_sharded(tensor) else tensor  # type: ignore[attr-defined]


def full(tensor: torch.Tensor) -> torch.Tensor:
    """The whole tensor on every rank (an all-gather when sharded)."""
    return tensor.full_tensor() if is_sharded(tensor) else tensor  # type: ignore[attr-defined]


def full_like(local_part: torch.Tensor, param: torch.Tensor) -> torch.Tensor:
    """The whole tensor of which ``local_part`` is this rank's shard, sharded like ``param``."""
    if not is_sharded(param):
        return local_part
    dtensor = _dtensor_type()
    shape, stride = param.shape, param.stride()
    whole = dtensor.from_local(local_part, param.device_mesh, param.placements, shape=shape, stride=stride)  # type: ignore[attr-defined]
    return whole.full_tensor()  # type: ignore[no-any-return]


def shard_like(whole: torch.Tensor, param: torch.Tensor) -> torch.Tensor:
    """This rank's shard of ``whole``, cut as ``param`` is, from rank 0's copy."""
    if not is_sharded(param):
        return whole
    from torch.distributed.tensor import distribute_tensor

    return distribute_tensor(whole, param.device_mesh, param.placements).to_local()  # type: ignore[attr-defined]


def masked_whole(param: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """The whole of ``param`` (gathered when sharded) with its current keep-mask (a local shard) applied."""
    whole = full(param.detach())
    return whole if mask is None else whole * full_like(mask, param)


def zero_fraction(param: torch.Tensor) -> float:
    """The fraction of exact zeros in the whole tensor (SparseML's ``__FROM_PARAM__`` start)."""
    whole = full(param.detach())
    return float((whole == 0).sum().item()) / whole.numel()


def wrong_mask_shape(saved: Mapping[str, torch.Tensor], params: Mapping[str, torch.Tensor]) -> str | None:
    """Why saved masks do not fit this rank's parameters (another world size, another model), or None."""
    for name, mask in saved.items():
        here = list(local(params[name]).shape)
        if list(mask.shape) != here:
            return (
                f"the saved mask of {name!r} has shape {list(mask.shape)}, not this rank's {here}: resume with the model "
                "and the sharding (FSDP2 world size) it was saved with"
            )
    return None
