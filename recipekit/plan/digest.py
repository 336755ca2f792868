"""The digest a plan file carries: what compile wrote, so a hand edit is found and named.

``"digest": {"sha256": ..., "fields": {...}}``: the SHA-256 of the rest of the document (canonical
JSON), and a short digest of each top-level field and of each field of each instruction. The whole
digest says *whether* the plan is what recipekit wrote; the field digests say *which* field is not
(``final_sparsity`` of the GMPruningModifier at line 12), so the refusal can say what to recompile.
It guards against edits and corruption, not against someone who recomputes it: it is not a
signature. Standard library only.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

#: Hex digits of each field digest: 32 bits find any edit a person makes by hand.
FIELD_DIGITS = 8


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")


def _short(value: Any) -> str:
    return hashlib.sha256(_canonical(value)).hexdigest()[:FIELD_DIGITS]


def _fields(document: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {key: _short(value) for key, value in document.items() if key not in ("digest", "instructions")}
    fields["instructions"] = [{key: _short(value) for key, value in instruction.items()} for instruction in document["instructions"]]
    return fields


def digest(document: dict[str, Any]) -> dict[str, Any]:
    """The ``digest`` of a plan document (its own ``digest`` key, if any, left out)."""
    body = {key: value for key, value in document.items() if key != "digest"}
    return {"sha256": hashlib.sha256(_canonical(body)).hexdigest(), "fields": _fields(body)}


def changed_fields(document: dict[str, Any]) -> list[str] | None:
    """None when the document matches its recorded digest; else what differs, in words.

    The caller checks first that ``document["digest"]`` is present; a digest that is itself malformed
    counts as an edit.
    """
    recorded = document["digest"]
    if not isinstance(recorded, dict):
        return ["the digest itself"]
    body = {key: value for key, value in document.items() if key != "digest"}
    if recorded.get("sha256") == hashlib.sha256(_canonical(body)).hexdigest():
        return None
    written = recorded.get("fields")
    if not isinstance(written, dict):
        return ["the digest itself"]
    now = _fields(body)
    changes = [key for key in sorted(now.keys() | written.keys()) if key != "instructions" and now.get(key) != written.get(key)]
    before = written.get("instructions")
    if not isinstance(before, list):
        return [*changes, "the instructions"]
    if len(before) != len(now["instructions"]):
        changes.append(f"the number of instructions ({len(now['instructions'])}; compile wrote {len(before)})")
    for index, (old, new) in enumerate(zip(before, now["instructions"], strict=False)):  # the count is reported above
        if not isinstance(old, dict):
            changes.append(f"instruction {index}")
            continue
        edited = [key for key in sorted(new.keys() | old.keys()) if new.get(key) != old.get(key)]
        if edited:
            changes.append(f"{', '.join(edited)} of {_describe(index, document['instructions'][index])}")
    return changes or ["the digest itself"]


def _describe(index: int, instruction: dict[str, Any]) -> str:
    origin = instruction.get("origin")
    where = f"instruction {index} ({instruction.get('op')!s}"
    if isinstance(origin, dict) and "modifier" in origin:
        where += f", {origin['modifier']} at line {origin.get('line')} of the recipe"
    return where + ")"
