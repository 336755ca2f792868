"""`recipekit lsp`: a Language Server for recipes (pygls; the optional extra ``lsp``).

It reuses the engine and adds only what an editor needs: :mod:`positions` (code points ↔
the client's encoding), :mod:`analysis` (lint a document in memory, with the CLI's
configuration and skip rules), :mod:`actions`, :mod:`hover`, :mod:`complete`,
:mod:`outline`, and :mod:`server` (the pygls wiring). Never imports torch. Nothing is
imported here: ``recipekit.lsp.editor_settings`` must stay importable without pygls.
"""
