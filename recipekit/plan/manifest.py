"""Parameter manifests: the model's parameters, without the model.

JSON ``[{"name", "shape", "module_type"}, ...]`` (the ``params`` field of the
goldens) or a plain text file with one parameter name per line.  Read here
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
from typing import Any

from recipekit.plan.selectors import PRUNABLE_MODULE_TYPES


class ManifestError(ValueError):
    pass


def load_manifest(path: Path) -> list[dict[str, Any]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ManifestError(f"cannot read manifest: {error}") from None
    if text.lstrip().startswith("["):
        try:
            document = json.loads(text)
        except ValueError as error:
            raise ManifestError(f"invalid JSON: {error}") from None
        if not isinstance(document, list) or not all(isinstance(p, dict) and isinstance(p.get("name"), str) for p in document):
            raise ManifestError('expected a JSON list of {"name", "shape", "module_type"} objects')
        return document
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


def from_factory(spec: str) -> list[dict[str, Any]]:
    """``package.module:factory`` → call the factory → :func:`from_module` of the model it returns."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise ManifestError(f"expected package.module:factory, got {spec!r}")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # like `python -m`: the project's own modules are importable
    try:
        factory = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as error:
        raise ManifestError(f"cannot load {spec}: {error}") from None
    return from_module(factory())
