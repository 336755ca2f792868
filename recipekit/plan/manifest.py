"""Parameter manifests: the model's parameters, without the model.

JSON ``[{"name", "shape", "module_type"}, ...]`` (the ``params`` field of the
goldens), the same list with the model's modules beside it,
``{"params": [...], "modules": [{"name", "type"}, ...]}`` (what `recipekit params --model`
writes: a QuantizationModifier's ``ignore`` names modules, parameter-free ones included), or a
plain text file with one parameter name per line.  Read here
(:func:`load_manifest`) and built here from a model (:func:`from_module`), the
one builder both `recipekit params` and the runtime use, so lint, ``expand``
and training select the same parameters.  Standard library only: a model is
read through ``named_modules``/``named_parameters``, never by importing torch.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from recipekit.plan.selectors import PRUNABLE_MODULE_TYPES

if TYPE_CHECKING:
    from collections.abc import Callable


class ManifestError(ValueError):
    pass


class BinaryManifestError(ManifestError):
    """A binary file (a checkpoint, most likely) given where a manifest is expected: a usage error."""


class Manifest(list):  # type: ignore[type-arg]
    """The parameters (a list, as before), and the model's modules when the manifest records them."""

    #: ``[{"name", "type"}, ...]`` of ``named_modules()`` (class names as SparseML compared them), or None.
    modules: list[dict[str, Any]] | None = None


# The magic numbers of torch.save's zip archive and of a pickle (protocol 2+).
_BINARY_MAGIC = (b"PK\x03\x04", b"\x80")


def load_manifest(path: Path) -> list[dict[str, Any]]:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ManifestError(f"cannot read manifest: {error}") from None
    if data.startswith(_BINARY_MAGIC) or b"\0" in data[:4096]:
        raise BinaryManifestError(
            f"{path} is a binary file (a checkpoint?), not a parameter manifest; write one from it with "
            f"`recipekit params --checkpoint {path} -o params.json` and pass that to --params"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ManifestError(f"cannot read manifest: {error}") from None
    if text.lstrip().startswith(("[", "{")):
        try:
            document = json.loads(text)
        except ValueError as error:
            raise ManifestError(f"invalid JSON: {error}") from None
        modules = None
        if isinstance(document, dict):
            modules = document.get("modules")
            listed = isinstance(modules, list) and all(isinstance(m, dict) and isinstance(m.get("name"), str) for m in modules)
            if modules is not None and not listed:
                raise ManifestError('expected "modules": a JSON list of {"name", "type"} objects')
            document = document.get("params")
        if not isinstance(document, list) or not all(isinstance(p, dict) and isinstance(p.get("name"), str) for p in document):
            raise ManifestError('expected a JSON list of {"name", "shape", "module_type"} objects, or {"params": that list, "modules": …}')
        manifest = Manifest(document)
        manifest.modules = modules
        return manifest
    names = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [{"name": name, "shape": None, "module_type": None} for name in names]


def module_type_name(module: Any) -> str:
    """The type SparseML's ``isinstance`` checks saw: a subclass of a prunable layer is named by that layer.

    ``nn.MultiheadAttention.out_proj`` is a ``NonDynamicallyQuantizableLinear``, a ``Linear`` to SparseML,
    so ``__ALL_PRUNABLE__`` includes it; an unrelated type keeps its own name.
    """
    own = type(module)
    if own.__name__ in PRUNABLE_MODULE_TYPES:
        return own.__name__
    for base in own.__mro__[1:]:
        if base.__name__ in PRUNABLE_MODULE_TYPES and base.__module__.startswith(("torch.", "transformers.")):
            return base.__name__
    return own.__name__


def from_module(model: Any) -> list[dict[str, Any]]:
    """A torch module's parameters in ``named_parameters()`` order (tied ones once), with their owner's type."""
    modules = dict(model.named_modules())
    manifest = []
    for name, parameter in model.named_parameters():
        owner = modules.get(name.rpartition(".")[0])
        module_type = module_type_name(owner) if owner is not None else None
        manifest.append({"name": name, "shape": list(parameter.shape), "module_type": module_type})
    return manifest


def modules_of(model: Any) -> list[dict[str, Any]]:
    """Every module of ``named_modules()`` with its own class name (SparseML's ``ignore`` compares ``__class__.__name__``)."""
    return [{"name": name, "type": type(module).__name__} for name, module in model.named_modules()]


def from_factory(spec: str, prepare: Callable[[Any], Any] | None = None) -> dict[str, Any]:
    """``package.module:factory`` → call the factory → ``{"params": from_module(model), "modules": modules_of(model)}``.

    ``prepare`` changes the model in place first, as training will (the CLI: the attention modules
    the trainer callbacks add).
    """
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise ManifestError(f"expected package.module:factory, got {spec!r}")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # like `python -m`: the project's own modules are importable
    try:
        factory = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as error:
        raise ManifestError(f"cannot load {spec}: {error}") from None
    model = factory()
    if prepare is not None:
        prepare(model)
    return {"params": from_module(model), "modules": modules_of(model)}
