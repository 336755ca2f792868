"""Start the server."""

from __future__ import annotations


def serve() -> None:
    from recipekit.lsp.server import serve as run

    run()
