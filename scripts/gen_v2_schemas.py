"""Generate the v2 (stage-format) modifier schemas from the libraries' own pydantic models.

Run by hand, once per dialect, in a virtual environment that has the library
(neither library is ever a dependency of recipekit)::

    /work/venvs/llmcompressor/bin/python scripts/gen_v2_schemas.py llmcompressor
    NM_DISABLE_ANALYTICS=1 NM_TEST_MODE=1 /work/venvs/sparseml/bin/python scripts/gen_v2_schemas.py sparseml

Each run writes ``recipekit/schema/v2/<dialect>.json``: one document with the
library's version, its preset ``scheme`` names, whether unknown arguments are
refused (pydantic ``extra="forbid"``) and, per modifier class name, the
``model_json_schema()`` of the class the library instantiates, with every
``$defs`` entry hoisted into one shared ``$defs``.  Fields the library sets
itself (``index``, ``group``, private ``*_`` state) are left out; a field
pydantic cannot describe (a torch type, a callable) becomes ``{}`` (anything).
"""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent.parent / "recipekit" / "schema" / "v2"
#: Set by the library, never meant to be written in a recipe.
INTERNAL = {"index", "group", "model_config"}


def _generator() -> type:
    from pydantic.json_schema import GenerateJsonSchema

    class Lenient(GenerateJsonSchema):
        def handle_invalid_for_json_schema(self, schema: Any, error_info: str) -> dict[str, Any]:
            return {}

        def callable_schema(self, schema: Any) -> dict[str, Any]:
            return {}

        def is_instance_schema(self, schema: Any) -> dict[str, Any]:
            return {}

        def default_schema(self, schema: Any) -> dict[str, Any]:
            # A default that is not JSON (a torch dtype, an object) is dropped, the field kept.
            try:
                return super().default_schema(schema)  # type: ignore[no-any-return]
            except Exception:  # noqa: BLE001
                return self.generate_inner(schema["schema"])  # type: ignore[no-any-return]

        def encode_default(self, dft: Any) -> Any:
            try:
                value = super().encode_default(dft)
                json.dumps(value)
                return value
            except Exception:  # noqa: BLE001
                return None

    return Lenient


def modifier_schema(cls: type, defs: dict[str, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = cls.model_json_schema(mode="validation", schema_generator=_generator())  # type: ignore[attr-defined]
    own = schema.pop("$defs", {})
    # Two libraries' classes may share a name (SparseML's legacy QuantizationArgs and
    # compressed-tensors'): the later one is renamed, and its references with it.
    renames = {}
    for name, definition in own.items():
        new = name
        while new in defs and defs[new] != definition:
            new += "_"
        renames[name] = new
    if any(old != new for old, new in renames.items()):
        text = json.dumps([schema, own])
        for old, new in renames.items():
            text = text.replace(f'"#/$defs/{old}"', f'"#/$defs/{new}"')
        schema, own = json.loads(text)
    for name, definition in own.items():
        defs[renames[name]] = definition
    properties = {
        key: value
        for key, value in schema.get("properties", {}).items()
        if key not in INTERNAL and not key.endswith("_") and not key.startswith("_")
    }
    result: dict[str, Any] = {"title": cls.__name__, "type": "object", "properties": properties}
    doc = (cls.__doc__ or "").strip().split("\n\n")[0]
    if doc:
        result["description"] = " ".join(doc.split())
    required = [key for key in schema.get("required", []) if key in properties]
    if required:
        result["required"] = required
    extra = cls.model_config.get("extra")  # type: ignore[attr-defined]
    result["additionalProperties"] = extra != "forbid"
    return result


def llmcompressor() -> dict[str, Any]:
    import llmcompressor as package
    from compressed_tensors.quantization.quant_scheme import PRESET_SCHEMES
    from llmcompressor.modifiers.factory import ModifierFactory

    ModifierFactory.refresh()
    registry: dict[str, type] = {}
    for table in ("_main_registry", "_experimental_registry", "_registered_registry"):
        for name, cls in getattr(ModifierFactory, table, {}).items():
            registry.setdefault(name, cls)
    return _document("llmcompressor", package.__version__, registry, sorted(PRESET_SCHEMES))


def sparseml() -> dict[str, Any]:
    import sparseml as package
    from sparseml.core.factory import ModifierFactory
    from sparseml.core.framework import Framework
    from sparseml.core.framework_object import MultiFrameworkObject

    try:
        from compressed_tensors.quantization.quant_scheme import PRESET_SCHEMES

        presets = sorted(PRESET_SCHEMES)
    except ImportError:
        presets = []
    ModifierFactory.refresh()
    registry: dict[str, type] = {}
    for table in ("_main_registry", "_experimental_registry"):
        for name, cls in getattr(ModifierFactory, table).items():
            # The factory instantiates the PyTorch flavour when there is one (MultiFrameworkObject.__new__).
            package_name = cls.__module__.rsplit(".", 1)[0]
            flavour = cls
            with contextlib.suppress(ImportError, AttributeError):
                flavour = MultiFrameworkObject.load_framework_class(f"{package_name}.pytorch", f"{name}{Framework.pytorch.class_name()}")
            registry.setdefault(name, flavour)
    return _document("sparseml", package.__version__, registry, presets)


def _document(dialect: str, version: str, registry: dict[str, type], presets: list[str]) -> dict[str, Any]:
    defs: dict[str, Any] = {}
    modifiers = {name: modifier_schema(cls, defs) for name, cls in sorted(registry.items())}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"{dialect} {version} v2 recipe modifiers",
        "x-dialect": dialect,
        "x-version": version,
        "x-presets": presets,
        "x-generated-by": "scripts/gen_v2_schemas.py",
        "modifiers": modifiers,
        "$defs": dict(sorted(defs.items())),
    }


def main() -> None:
    dialect = sys.argv[1] if len(sys.argv) > 1 else ""
    builders = {"llmcompressor": llmcompressor, "sparseml": sparseml}
    if dialect not in builders:
        raise SystemExit(f"usage: gen_v2_schemas.py {{{'|'.join(builders)}}}")
    document = builders[dialect]()
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"{dialect}.json"
    path.write_text(json.dumps(document, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    print(f"{path}: {len(document['modifiers'])} modifiers, {len(document['x-presets'])} presets")


if __name__ == "__main__":
    main()
