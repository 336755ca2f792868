"""Parameter manifests: the model's parameters, without the model.

JSON ``[{"name", "shape", "module_type"}, ...]`` (the ``params`` field of the
goldens) or a plain text file with one parameter name per line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


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
