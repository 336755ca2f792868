"""What the server offers, as pygls 2.1 serializes it, built without pygls (see :mod:`recipekit.lsp.boot`)."""

from __future__ import annotations

from typing import Any

from recipekit.version import VERSION

ENCODINGS = ("utf-8", "utf-16", "utf-32")
FIX_ALL_KIND = "source.fixAll.recipe-lint"
TRIGGER_CHARACTERS = ["!", "(", " "]


def choose_encoding(params: dict[str, Any]) -> str:
    """The client's first encoding that LSP defines; UTF-16, the protocol's default, otherwise."""
    general = (params.get("capabilities") or {}).get("general") or {}
    return next((e for e in general.get("positionEncodings") or () if e in ENCODINGS), "utf-16")


def capabilities(encoding: str, client: dict[str, Any]) -> dict[str, Any]:
    """What the server registers (recipekit/lsp/server.py), as pygls 2.1 serializes it for this client."""
    sync: dict[str, Any] = {"openClose": True, "change": 2}
    told = ((client.get("textDocument") or {}).get("synchronization")) or {}
    for key in ("willSave", "willSaveWaitUntil"):  # pygls answers "no" to a client that asked, and is silent otherwise
        if told.get(key) is not None:
            sync[key] = False
    sync["save"] = True
    return {
        "positionEncoding": encoding,
        "textDocumentSync": sync,
        "completionProvider": {"triggerCharacters": TRIGGER_CHARACTERS},
        "hoverProvider": True,
        "documentSymbolProvider": True,
        "codeActionProvider": {"codeActionKinds": ["quickfix", "source.fixAll", FIX_ALL_KIND]},
        "executeCommandProvider": {"commands": []},
        "workspace": {"workspaceFolders": {"supported": True, "changeNotifications": True}, "fileOperations": {}},
    }


def initialize_result(params: dict[str, Any]) -> dict[str, Any]:
    client = params.get("capabilities") or {}
    return {"capabilities": capabilities(choose_encoding(params), client), "serverInfo": {"name": "recipekit", "version": VERSION}}
