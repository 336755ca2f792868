"""The pygls wiring: one handler per LSP feature, each a call into this package.

Diagnostics are pushed on open, change and save. A change schedules one lint of the
buffer (changes that arrive before it runs are coalesced into it; ``debounce`` seconds in
the client's ``initializationOptions`` delay it further). Everything a lint needs is
imported and read once (the engine, rules, schemas); per keystroke only the buffer is linted.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from lsprotocol import types as lsp
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path

from recipekit.lsp import analysis
from recipekit.lsp.actions import code_actions
from recipekit.lsp.capabilities import FIX_ALL_KIND, TRIGGER_CHARACTERS
from recipekit.lsp.convert import to_lsp
from recipekit.lsp.positions import to_offset, units
from recipekit.version import VERSION

_WATCHED = ("**/pyproject.toml", "**/recipe-lint.toml")


class RecipeServer(LanguageServer):
    """The server's state: each open buffer's last lint, and what is pending."""

    def __init__(self) -> None:
        super().__init__("recipekit", VERSION, text_document_sync_kind=lsp.TextDocumentSyncKind.Incremental)
        self.resolver = analysis.Resolver()
        self.linted: dict[str, analysis.Linted | None] = {}
        self.skips: dict[str, bool] = {}
        self.recipes: dict[str, tuple[str, Any]] = {}
        self.pending: set[str] = set()
        self.debounce = 0.0
        self.told: set[str] = set()
        self._rule_codes: frozenset[str] | None = None

    @property
    def encoding(self) -> str:
        return str(getattr(self.workspace.position_encoding, "value", self.workspace.position_encoding) or "utf-16")

    @property
    def rule_codes(self) -> frozenset[str]:
        if self._rule_codes is None:
            from recipekit.lint_rules import all_rules

            self._rule_codes = frozenset(all_rules())
        return self._rule_codes

    def roots(self) -> list[str]:
        found = [to_fs_path(folder.uri) for folder in self.workspace.folders.values()]
        if self.workspace.root_path:
            found.append(self.workspace.root_path)
        return [os.path.abspath(path) for path in found if path]

    # -- linting -------------------------------------------------------------

    def schedule(self, uri: str) -> None:
        if uri in self.pending:
            return  # the lint already scheduled reads the newest text
        self.pending.add(uri)
        loop = asyncio.get_running_loop()
        if self.debounce > 0:
            loop.call_later(self.debounce, self.lint_now, uri)
        else:
            loop.call_soon(self.lint_now, uri)

    def lint_now(self, uri: str) -> None:
        self.pending.discard(uri)
        if uri not in self.workspace.text_documents:
            return
        document = self.workspace.get_text_document(uri)
        try:
            linted = self.lint(uri, document.source)
        except Exception as error:  # noqa: BLE001 - a bug must be said, not kill the server or pass silently
            message = f"recipekit lsp: internal error linting {uri}: {type(error).__name__}: {error}"
            message += "\nThis is a bug in recipekit, not in your recipe; please report it."
            self.window_show_message(lsp.ShowMessageParams(lsp.MessageType.Error, message))
            return
        found = [] if linted is None else [to_lsp(d, linted.source, uri, self.encoding, self.rule_codes) for d in linted.diagnostics]
        self.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(uri=uri, diagnostics=found, version=document.version))

    def lint(self, uri: str, text: str) -> analysis.Linted | None:
        file = os.path.abspath(to_fs_path(uri) or uri)
        root = analysis.workspace_root(file, self.roots())
        if uri not in self.skips:  # asks git: once per open or save, not per keystroke
            self.skips[uri] = analysis.walk_skips(file, root)
        if self.skips[uri] or analysis.not_a_recipe(file, text):
            self.linted[uri] = None
            return None
        settings = self.resolver.settings(file)
        if settings.problem is not None and settings.problem not in self.told:
            self.told.add(settings.problem)
            self.window_show_message(lsp.ShowMessageParams(lsp.MessageType.Error, f"recipe-lint: {settings.problem}"))
        linted = analysis.lint_buffer(analysis.display_path(file, root), text, settings)
        self.linted[uri] = linted
        return linted

    def current(self, uri: str) -> analysis.Linted | None:
        """The lint result of the buffer's current text (linted now if a change is pending)."""
        document = self.workspace.get_text_document(uri)
        linted = self.linted.get(uri)
        if linted is None or linted.text != document.source:
            linted = self.lint(uri, document.source)
        return linted

    def recipe(self, linted: analysis.Linted) -> Any:
        """The buffer's IR (effective values), loaded once per text."""
        cached = self.recipes.get(linted.path)
        if cached is not None and cached[0] == linted.text:
            return cached[1]
        recipe = analysis.load_recipe(linted.source) if linted.source is not None else None
        self.recipes[linted.path] = (linted.text, recipe)
        return recipe


server = RecipeServer()


@server.feature(lsp.INITIALIZE)
def _initialize(ls: RecipeServer, params: lsp.InitializeParams) -> None:
    options = params.initialization_options
    if isinstance(options, dict) and isinstance(options.get("debounce"), (int, float)):
        ls.debounce = max(0.0, float(options["debounce"]))


@server.feature(lsp.INITIALIZED)
def _initialized(ls: RecipeServer, params: lsp.InitializedParams) -> None:
    watched = ls.client_capabilities.workspace
    dynamic = watched is not None and watched.did_change_watched_files is not None and watched.did_change_watched_files.dynamic_registration
    if dynamic:
        watchers = [lsp.FileSystemWatcher(glob_pattern=pattern) for pattern in _WATCHED]
        registration = lsp.Registration(
            id="recipe-lint-config",
            method=lsp.WORKSPACE_DID_CHANGE_WATCHED_FILES,
            register_options=lsp.DidChangeWatchedFilesRegistrationOptions(watchers=watchers),
        )
        ls.client_register_capability(lsp.RegistrationParams([registration]))


@server.feature(lsp.TEXT_DOCUMENT_DID_OPEN)
def _did_open(ls: RecipeServer, params: lsp.DidOpenTextDocumentParams) -> None:
    ls.skips.pop(params.text_document.uri, None)
    ls.lint_now(params.text_document.uri)


@server.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
def _did_change(ls: RecipeServer, params: lsp.DidChangeTextDocumentParams) -> None:
    ls.schedule(params.text_document.uri)


@server.feature(lsp.TEXT_DOCUMENT_DID_SAVE)
def _did_save(ls: RecipeServer, params: lsp.DidSaveTextDocumentParams) -> None:
    ls.skips.pop(params.text_document.uri, None)  # a save may move it in or out of .gitignore's reach
    ls.lint_now(params.text_document.uri)


@server.feature(lsp.TEXT_DOCUMENT_DID_CLOSE)
def _did_close(ls: RecipeServer, params: lsp.DidCloseTextDocumentParams) -> None:
    uri = params.text_document.uri
    for table in (ls.linted, ls.skips):
        table.pop(uri, None)
    ls.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(uri=uri, diagnostics=[]))


@server.feature(lsp.WORKSPACE_DID_CHANGE_WATCHED_FILES)
def _did_change_watched(ls: RecipeServer, params: lsp.DidChangeWatchedFilesParams) -> None:
    ls.resolver.forget()
    ls.told.clear()
    for uri in list(ls.workspace.text_documents):
        ls.skips.pop(uri, None)
        ls.lint_now(uri)


@server.feature(
    lsp.TEXT_DOCUMENT_CODE_ACTION,
    lsp.CodeActionOptions(code_action_kinds=[lsp.CodeActionKind.QuickFix, lsp.CodeActionKind.SourceFixAll, FIX_ALL_KIND]),
)
def _code_action(ls: RecipeServer, params: lsp.CodeActionParams) -> list[lsp.CodeAction]:
    linted = ls.current(params.text_document.uri)
    if linted is None:
        return []
    only = [str(getattr(kind, "value", kind)) for kind in params.context.only] if params.context.only else None
    return code_actions(linted, params.text_document.uri, params.range, only, ls.encoding, ls.rule_codes)


@server.feature(lsp.TEXT_DOCUMENT_HOVER)
def _hover(ls: RecipeServer, params: lsp.HoverParams) -> lsp.Hover | None:
    from recipekit.lsp.hover import hover_markdown

    linted = ls.current(params.text_document.uri)
    if linted is None or linted.source is None:
        return None
    source = linted.source
    offset = to_offset(source, params.position.line, params.position.character, ls.encoding)
    line, column = source.line_col(offset)
    codes = [
        d.code
        for d in linted.diagnostics
        if (d.location.line, d.location.column) <= (line, column) <= (d.location.end_line, d.location.end_column)
    ]
    text = hover_markdown(source, offset, ls.recipe(linted), linted.settings.config.steps_per_epoch, codes)
    if text is None:
        return None
    return lsp.Hover(lsp.MarkupContent(lsp.MarkupKind.Markdown, text))


@server.feature(lsp.TEXT_DOCUMENT_COMPLETION, lsp.CompletionOptions(trigger_characters=TRIGGER_CHARACTERS))
def _completion(ls: RecipeServer, params: lsp.CompletionParams) -> lsp.CompletionList:
    from recipekit.lsp.complete import completions, text_variables

    document = ls.workspace.get_text_document(params.text_document.uri)
    text = document.source
    lines = text.splitlines() or [""]
    row = params.position.line
    line_text = lines[row] if row < len(lines) else ""
    column = _code_points(line_text, params.position.character, ls.encoding)
    linted = ls.current(params.text_document.uri)
    recipe = ls.recipe(linted) if linted is not None else None
    variables = {name: v.value for name, v in recipe.variables.items()} if recipe is not None else text_variables(text)
    items = completions(text, row, column, variables)
    for item in items:  # back to the client's units
        edit = item.text_edit
        if isinstance(edit, lsp.TextEdit):
            for position in (edit.range.start, edit.range.end):
                position.character = units(line_text[: position.character], ls.encoding)
    return lsp.CompletionList(is_incomplete=False, items=items)


def _code_points(line: str, character: int, encoding: str) -> int:
    counted = 0
    for index, char in enumerate(line):
        if counted >= character:
            return index
        counted += units(char, encoding)
    return len(line)


@server.feature(lsp.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
def _symbols(ls: RecipeServer, params: lsp.DocumentSymbolParams) -> list[lsp.DocumentSymbol]:
    from recipekit.lsp.outline import symbols
    from recipekit.lsp.tree import parse

    linted = ls.current(params.text_document.uri)
    if linted is None or linted.source is None:
        return []
    return symbols(linted.source, parse(linted.source), ls.recipe(linted), ls.encoding)


def serve() -> None:
    """Serve over stdio until the client exits."""
    server.start_io()
