"""`recipekit lsp`, end to end: the real server as a subprocess, JSON-RPC over stdio (pygls's client).

Servers are few and shared (each start imports pygls): one per position encoding, module-wide.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

pytest.importorskip("pygls")

from lsprotocol import types as lsp
from pygls.lsp.client import LanguageClient

from recipekit import cli

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted(p for p in (ROOT / "examples").iterdir() if p.suffix in (".yaml", ".yml", ".md"))
TIMEOUT = 60

BROKEN = """\
modifiers:
  - !GMPruningModifer
    start_epoch: 0
  - !SetLearningRateModifier
    learning_rate: 1e-3
    start_epoch: 0.0
    end_epoch: 5.0
  - !EpochRangeModifier
    start_epoch: 0.0
    end_epoch: 010
"""

FIXABLE = """\
modifiers:
  - !SetLearningRateModifier
    learning_rate: 1e-3   # a YAML 1.1 string
    start_epoch: 0.0
  - !EpochRangeModifier
    start_epoch: 0.0
    end_epoch: 010
"""

#: An emoji (one code point, two UTF-16 units, four UTF-8 bytes) before a diagnostic on its line.
EMOJI = """\
modifiers:
  - !GMPruningModifier
    params: ["\U0001f600.weight", "re:conv(", "x"]
    init_sparsity: 0.05
    final_sparsity: 0.8
    start_epoch: 0.0
    end_epoch: 10.0
    update_frequency: 1.0
"""

PRUNING = """\
num_epochs: 10
end: eval(num_epochs - 2)
modifiers:
  - !GMPruningModifier
    params: __ALL_PRUNABLE__
    init_sparsity: 0.05
    final_sparsity: 0.8
    start_epoch: 2.5
    end_epoch: eval(end)
    update_frequency: 1.0

  - !LearningRateFunctionModifier
    lr_func: linear
    init_lr: 0.1
    final_lr: 0.001
    start_epoch: 0.0
    end_epoch: 10.0
"""


class Session:
    """One server subprocess and a client on a private event loop, driven synchronously."""

    def __init__(self, root: Path, encodings: list[str] | None = None, options: Any = None, also: Path | None = None) -> None:
        self.loop = asyncio.new_event_loop()
        self.client = LanguageClient("recipekit-tests", "1")
        self.published: dict[str, list[lsp.PublishDiagnosticsParams]] = {}
        self.messages: list[str] = []

        @self.client.feature(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        def _published(params: lsp.PublishDiagnosticsParams) -> None:
            self.published.setdefault(params.uri, []).append(params)

        @self.client.feature(lsp.WINDOW_SHOW_MESSAGE)
        def _message(params: lsp.ShowMessageParams) -> None:
            self.messages.append(params.message)

        self.run(self.client.start_io(sys.executable, "-m", "recipekit", "lsp", cwd=str(root)))
        general = lsp.GeneralClientCapabilities(position_encodings=encodings) if encodings else None
        params = lsp.InitializeParams(
            capabilities=lsp.ClientCapabilities(general=general),
            root_uri=root.as_uri(),
            workspace_folders=[lsp.WorkspaceFolder(folder.as_uri(), folder.name) for folder in (root, also) if folder is not None],
            initialization_options=options,
        )
        self.init = self.run(self.client.initialize_async(params))
        self.client.initialized(lsp.InitializedParams())
        self.versions: dict[str, int] = {}

    def run(self, awaitable: Any) -> Any:
        return self.loop.run_until_complete(asyncio.wait_for(awaitable, TIMEOUT))

    def open(self, path: Path, text: str) -> list[lsp.Diagnostic]:
        uri = path.as_uri()
        self.versions[uri] = 1
        self.client.text_document_did_open(lsp.DidOpenTextDocumentParams(lsp.TextDocumentItem(uri, "yaml", 1, text)))
        return self.diagnostics(uri, 1)

    def change(self, path: Path, text: str) -> list[lsp.Diagnostic]:
        uri = path.as_uri()
        self.versions[uri] += 1
        version = self.versions[uri]
        identifier = lsp.VersionedTextDocumentIdentifier(version=version, uri=uri)
        change = lsp.TextDocumentContentChangeWholeDocument(text=text)
        self.client.text_document_did_change(lsp.DidChangeTextDocumentParams(identifier, [change]))
        return self.diagnostics(uri, version)

    def diagnostics(self, uri: str, version: int) -> list[lsp.Diagnostic]:
        async def wait() -> list[lsp.Diagnostic]:
            while True:
                for params in self.published.get(uri, []):
                    if params.version == version:
                        return list(params.diagnostics)
                await asyncio.sleep(0.005)

        found: list[lsp.Diagnostic] = self.run(wait())
        return found

    def close(self) -> None:
        self.run(self.client.shutdown_async(None))
        self.client.exit(None)
        self.run(self.client.stop())
        self.loop.close()


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("workspace")


@pytest.fixture(scope="module")
def server(workspace: Path) -> Iterator[Session]:
    """The shared server: two workspace folders, a scratch one and this checkout (for examples/)."""
    session = Session(workspace, ["utf-16"], also=ROOT)
    yield session
    session.close()


def expected(path: Path, cwd: Path, encoding: str = "utf-16") -> list[dict[str, Any]]:
    """`recipe-lint --format json` for the file, run from ``cwd``, as LSP diagnostics would carry it."""
    runner = CliRunner()
    with _chdir(cwd):
        result = runner.invoke(cli.lint_command, ["--format", "json", str(path.relative_to(cwd))])
    lines = path.read_text(encoding="utf-8").splitlines()

    def character(line: int, column: int) -> int:
        text = lines[line - 1][: column - 1] if line - 1 < len(lines) else ""
        return {"utf-16": len(text.encode("utf-16-le")) // 2, "utf-8": len(text.encode()), "utf-32": len(text)}[encoding]

    return [
        {
            "code": item["code"],
            "severity": {"error": 1, "warning": 2, "info": 3}[item["severity"]],
            "message": "\n".join([item["message"], *(f"note: {n['message']}" for n in item["notes"] if "line" not in n)]),
            "range": [
                item["line"] - 1,
                character(item["line"], item["column"]),
                item["end_line"] - 1,
                character(item["end_line"], item["end_column"]),
            ],
            "related": [(n["message"], n["line"] - 1) for n in item["notes"] if "line" in n],
        }
        for item in json.loads(result.stdout)
    ]


class _chdir:
    def __init__(self, path: Path) -> None:
        self.path = path

    def __enter__(self) -> None:
        import os

        self.old = os.getcwd()
        os.chdir(self.path)

    def __exit__(self, *_: object) -> None:
        import os

        os.chdir(self.old)


def shown(diagnostics: list[lsp.Diagnostic]) -> list[dict[str, Any]]:
    return [
        {
            "code": d.code,
            "severity": int(d.severity or 0),
            "message": d.message,
            "range": [d.range.start.line, d.range.start.character, d.range.end.line, d.range.end.character],
            "related": [(r.message, r.location.range.start.line) for r in d.related_information or []],
        }
        for d in diagnostics
    ]


# -- diagnostics --------------------------------------------------------------


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_open_publishes_what_recipe_lint_reports(server: Session, example: Path) -> None:
    found = server.open(example, example.read_text(encoding="utf-8"))
    assert shown(found) == expected(example, ROOT)


def test_open_and_change_a_broken_recipe(server: Session, workspace: Path) -> None:
    path = workspace / "broken.yaml"
    path.write_text(BROKEN, encoding="utf-8")
    found = server.open(path, BROKEN)
    assert shown(found) == expected(path, workspace)
    assert [d.code for d in found] == ["S201", "L360", "L306", "L360"]  # the rules run past a schema error (issue 21, item 5)
    assert found[0].code_description is not None and found[0].code_description.href.endswith("docs/diagnostics.md")
    # Fixing the tag: the change publishes the new diagnostics.
    repaired = BROKEN.replace("GMPruningModifer\n    start_epoch: 0", "EpochRangeModifier\n    start_epoch: 0\n    end_epoch: 1")
    found = server.change(path, repaired)
    path.write_text(repaired, encoding="utf-8")
    assert shown(found) == expected(path, workspace)
    assert [(d.code, d.range.start.line, d.range.start.character) for d in found if d.code == "L360"] == [("L360", 5, 19), ("L360", 10, 15)]
    found = [d for d in found if d.code == "L360"]
    assert found[0].code_description is not None and found[0].code_description.href.endswith("docs/rules.md#l360")


MARKDOWN = """\
---
modifiers:
  - !EpochRangeModifier
    start_epoch: 0.0
    end_epoch: 1.0
    end_epoch: 2.0
---

# A recipe in Markdown: SparseML reads the front matter
"""


def test_markdown_recipe_with_related_locations_and_save(server: Session, workspace: Path) -> None:
    path = workspace / "recipe.md"
    path.write_text(MARKDOWN, encoding="utf-8")
    found = server.open(path, MARKDOWN)
    assert shown(found) == expected(path, workspace)
    assert [(d.code, d.range.start.line) for d in found] == [("P111", 5)]
    related = found[0].related_information or []
    assert [(r.message, r.location.uri, r.location.range.start.line) for r in related] == [("first defined here", path.as_uri(), 4)]
    # Saving publishes again (for the text the client holds).
    server.published.pop(path.as_uri())
    server.client.text_document_did_save(lsp.DidSaveTextDocumentParams(lsp.TextDocumentIdentifier(path.as_uri())))
    assert shown(server.diagnostics(path.as_uri(), 1)) == shown(found)


V2 = """\
quant_stage:
  quant_modifiers:
    GPTQModifier:
      targets: Linear
      scheme: W4A16
      blocksize: 128
"""


def test_v2_recipe_diagnostics_match_recipe_lint(server: Session, workspace: Path) -> None:
    path = workspace / "v2-recipe.yml"
    path.write_text(V2, encoding="utf-8")
    found = server.open(path, V2)
    assert shown(found) == expected(path, workspace)
    assert [(d.code, d.range.start.line) for d in found] == [("S227", 2), ("S223", 5)]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-8", "utf-32"])
def test_positions_after_a_non_bmp_character_in_each_encoding(server: Session, workspace: Path, encoding: str) -> None:
    # The encoding is negotiated once per session: UTF-8 and UTF-32 get servers of their own.
    session = Session(workspace, [encoding, "utf-16"]) if encoding != "utf-16" else None
    try:
        active = session or server
        assert active.init.capabilities.position_encoding == encoding
        path = workspace / f"emoji-{encoding}.yaml"
        path.write_text(EMOJI, encoding="utf-8")
        found = active.open(path, EMOJI)
        # `re:conv(` starts at code point 25 of its line: the emoji before it is 2 UTF-16 units, 4 UTF-8 bytes.
        start = {"utf-16": 26, "utf-8": 28, "utf-32": 25}[encoding]
        assert [(d.code, d.range.start.line, d.range.start.character, d.range.end.character) for d in found] == [
            ("L321", 2, start, start + 10)
        ]
        assert shown(found) == expected(path, workspace, encoding)
        # And back: a hover on the bad pattern (a client position) explains rule L321.
        hover = active.run(
            active.client.text_document_hover_async(lsp.HoverParams(lsp.TextDocumentIdentifier(path.as_uri()), lsp.Position(2, start + 1)))
        )
        assert hover is not None and "**L321 invalid-regex**" in hover.contents.value
        # An incremental change in the client's units lands where the client meant: `re:conv(` becomes `re:conv()`.
        close = lsp.Position(2, start + len("re:conv(") + 1)
        change = lsp.TextDocumentContentChangePartial(range=lsp.Range(close, close), text=")")
        identifier = lsp.VersionedTextDocumentIdentifier(version=2, uri=path.as_uri())
        active.versions[path.as_uri()] = 2
        active.client.text_document_did_change(lsp.DidChangeTextDocumentParams(identifier, [change]))
        assert active.diagnostics(path.as_uri(), 2) == []
    finally:
        if session is not None:
            session.close()


def test_files_the_walk_skips_get_no_diagnostics(server: Session, workspace: Path) -> None:
    hidden = workspace / ".github" / "workflow.yaml"
    hidden.parent.mkdir()
    assert server.open(hidden, BROKEN) == []  # a hidden directory
    config = workspace / "config.yaml"
    assert server.open(config, "key: [unclosed\n") == []  # no modifier: not a recipe


def test_configuration_is_read_and_re_read_when_it_changes(server: Session, workspace: Path) -> None:
    folder = workspace / "configured"
    folder.mkdir()
    path = folder / "r.yaml"
    path.write_text(FIXABLE, encoding="utf-8")
    (folder / "recipe-lint.toml").write_text('ignore = ["L360"]\n', encoding="utf-8")
    assert server.open(path, FIXABLE) == []
    (folder / "recipe-lint.toml").write_text('[severity]\nL360 = "error"\n', encoding="utf-8")
    found = server.change(path, FIXABLE + "\n")
    assert [(d.code, d.severity) for d in found] == [("L360", lsp.DiagnosticSeverity.Error)] * 2
    (folder / "recipe-lint.toml").write_text('selct = ["L3"]\n', encoding="utf-8")
    found = server.change(path, FIXABLE)
    assert [d.code for d in found] == ["L360", "L360"]  # the defaults, and the problem said aloud
    assert any("did you mean 'select'?" in message for message in server.messages)


# -- code actions --------------------------------------------------------------


def apply(text: str, edits: list[lsp.TextEdit]) -> str:
    """Apply UTF-16 edits (no non-BMP characters in these texts) as a client would."""
    lines = text.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))

    def offset(position: lsp.Position) -> int:
        return starts[position.line] + position.character if position.line < len(lines) else len(text)

    for edit in sorted(edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True):
        text = text[: offset(edit.range.start)] + edit.new_text + text[offset(edit.range.end) :]
    return text


def actions(session: Session, path: Path, line: int, only: list[str] | None = None) -> list[lsp.CodeAction]:
    params = lsp.CodeActionParams(
        lsp.TextDocumentIdentifier(path.as_uri()),
        lsp.Range(lsp.Position(line, 0), lsp.Position(line, 0)),
        lsp.CodeActionContext(diagnostics=[], only=only),
    )
    found: list[lsp.CodeAction] = session.run(session.client.text_document_code_action_async(params)) or []
    return found


def edits_of(action: lsp.CodeAction, path: Path) -> list[lsp.TextEdit]:
    assert action.edit is not None and action.edit.changes is not None
    return list(action.edit.changes[path.as_uri()])


def test_quick_fix_applied_removes_its_diagnostic(server: Session, workspace: Path) -> None:
    path = workspace / "quickfix.yaml"
    found = server.open(path, FIXABLE)
    assert [(d.code, d.range.start.line) for d in found] == [("L360", 2), ("L360", 6)]
    offered = actions(server, path, 2)
    assert [a.title for a in offered] == [
        "Fix L360: write 1.0e-3",
        "Disable L360 for this line",
        "Fix all recipe-lint problems",
    ]
    text = apply(FIXABLE, edits_of(offered[0], path))
    assert "learning_rate: 1.0e-3   # a YAML 1.1 string" in text
    assert [(d.code, d.range.start.line) for d in server.change(path, text)] == [("L360", 6)]


def test_disable_for_this_line_inserts_the_comment_the_linter_reads(server: Session, workspace: Path) -> None:
    path = workspace / "disable.yaml"
    server.open(path, FIXABLE)
    disable = [a for a in actions(server, path, 6) if a.title == "Disable L360 for this line"]
    text = apply(FIXABLE, edits_of(disable[0], path))
    assert text.splitlines()[6] == "    end_epoch: 010  # recipe-lint: disable=L360"
    assert [(d.code, d.range.start.line) for d in server.change(path, text)] == [("L360", 2)]
    # A second code joins the comment already there.
    found = [a for a in actions(server, path, 2) if a.title.startswith("Disable")]
    assert (
        apply(text, edits_of(found[0], path)).splitlines()[2]
        == "    learning_rate: 1e-3   # a YAML 1.1 string  # recipe-lint: disable=L360"
    )


def test_fix_all_is_one_edit_giving_what_fix_writes(server: Session, workspace: Path, tmp_path: Path) -> None:
    path = workspace / "fixall.yaml"
    server.open(path, FIXABLE)
    offered = actions(server, path, 0, only=[lsp.CodeActionKind.SourceFixAll])
    assert [a.kind for a in offered] == ["source.fixAll.recipe-lint"]
    edits = edits_of(offered[0], path)
    assert len(edits) == 1
    on_disk = tmp_path / "fixall.yaml"
    on_disk.write_text(FIXABLE, encoding="utf-8")
    CliRunner().invoke(cli.lint_command, ["--fix", str(on_disk)])
    assert apply(FIXABLE, edits) == on_disk.read_text(encoding="utf-8")
    assert server.change(path, apply(FIXABLE, edits)) == []


# -- hover, completion, outline -------------------------------------------------


def hover(session: Session, path: Path, line: int, character: int) -> str:
    params = lsp.HoverParams(lsp.TextDocumentIdentifier(path.as_uri()), lsp.Position(line, character))
    found = session.run(session.client.text_document_hover_async(params))
    assert found is not None
    value: str = found.contents.value
    return value


def test_hover_modifier_key_effective_value_and_epoch_step(server: Session, workspace: Path) -> None:
    folder = workspace / "steps"
    folder.mkdir()
    (folder / "recipe-lint.toml").write_text("steps-per-epoch = 100\n", encoding="utf-8")
    path = folder / "pruning.yaml"
    assert server.open(path, PRUNING) == []
    tag = hover(server, path, 3, 6)
    assert tag.startswith("**GMPruningModifier** (SparseML 1.8)\n\nGradual magnitude pruning")
    assert '| `inter_func` | "linear" \\| "cubic" \\| "inverse_cubic" | `cubic` |' in tag
    end = hover(server, path, 8, 5)
    assert end.startswith("**end_epoch** (GMPruningModifier): number")
    assert "- effective value (what SparseML uses): `8.0`" in end
    assert "- computed from `eval(end)`" in end
    assert "- epoch 8 = optimizer step 800 at steps_per_epoch=100" in end
    start = hover(server, path, 7, 18)  # on the value
    assert "- epoch 2.5 = optimizer step 250 at steps_per_epoch=100" in start
    assert hover(server, path, 1, 1) == "**end** (recipe variable)\n\n- value: `8`\n- computed from `eval(num_epochs - 2)`"
    # Another modifier's error does not hide this one's effective values.
    broken = PRUNING + "  - !ConstantPruningModifier\n    params: __ALL__\n    start_epoch: -5\n    end_epoch: 3\n"
    assert [d.code for d in server.change(path, broken)] == ["S206"]
    assert "- effective value (what SparseML uses): `8.0`" in hover(server, path, 8, 5)
    assert "- effective value: not known while this modifier has errors" in hover(server, path, 20, 6)


def complete(session: Session, path: Path, line: int, character: int) -> list[lsp.CompletionItem]:
    params = lsp.CompletionParams(lsp.TextDocumentIdentifier(path.as_uri()), lsp.Position(line, character))
    found = session.run(session.client.text_document_completion_async(params))
    items: list[lsp.CompletionItem] = found.items if isinstance(found, lsp.CompletionList) else found
    return items


def test_completion_tags_keys_values_and_variables(server: Session, workspace: Path) -> None:
    path = workspace / "complete.yaml"
    typed = PRUNING.replace(
        "    update_frequency: 1.0\n", "    update_frequency: 1.0\n    inter_func: \n    \n  - !GMPr\n    end_epoch: eval(num_)\n"
    )
    server.open(path, typed)
    lines = typed.splitlines()
    row = lines.index("  - !GMPr")
    tags = complete(server, path, row, len("  - !GMPr"))
    assert "GMPruningModifier" in [i.label for i in tags]
    edit = next(i for i in tags if i.label == "GMPruningModifier").text_edit
    assert isinstance(edit, lsp.TextEdit) and (edit.range.start.character, edit.range.end.character) == (5, 9)
    values = complete(server, path, lines.index("    inter_func: "), len("    inter_func: "))
    assert [i.label for i in values] == ["linear", "cubic", "inverse_cubic"]
    keys = complete(server, path, lines.index("    inter_func: ") + 1, 4)
    labels = [i.label for i in keys]
    assert "leave_enabled" in labels and "mask_type" in labels
    assert "start_epoch" not in labels and "inter_func" not in labels  # already written
    leave = next(i for i in keys if i.label == "leave_enabled")
    assert leave.insert_text_format == lsp.InsertTextFormat.Snippet
    assert isinstance(leave.text_edit, lsp.TextEdit) and leave.text_edit.new_text == "leave_enabled: ${1:true}"
    row = lines.index("    end_epoch: eval(num_)")
    variables = complete(server, path, row, len("    end_epoch: eval(num_"))
    assert {"num_epochs", "end"} <= {i.label for i in variables}


def test_completion_of_v2_modifier_names_and_schemes(server: Session, workspace: Path) -> None:
    path = workspace / "v2.yaml"
    text = "quant_stage:\n  quant_modifiers:\n    GPTQModifier:\n      targets: Linear\n      scheme: W4\n    \n"
    server.open(path, text)
    names = [i.label for i in complete(server, path, 5, 4)]
    assert "QuantizationModifier" in names and "GPTQModifier" not in names
    schemes = [i.label for i in complete(server, path, 4, len("      scheme: W4"))]
    assert "W4A16" in schemes
    assert hover(server, path, 2, 6).startswith("**GPTQModifier** (llm-compressor ")
    assert hover(server, path, 4, 7).startswith("**scheme** (GPTQModifier): string | object | null")


def test_completion_of_enumerated_values(server: Session, workspace: Path) -> None:
    path = workspace / "values.yaml"
    text = PRUNING.replace("    lr_func: linear\n", "    lr_func: \n").replace("    inter_func: cubic\n", "")
    text = text.replace("    update_frequency: 1.0\n", "    update_frequency: 1.0\n    mask_type: \n")
    server.open(path, text)
    lines = text.splitlines()
    mask = [i.label for i in complete(server, path, lines.index("    mask_type: "), len("    mask_type: "))]
    assert mask[:3] == ["unstructured", "block4", "tensorrt"] and "2:4" in mask
    lr_func = [i.label for i in complete(server, path, lines.index("    lr_func: "), len("    lr_func: "))]
    assert lr_func == ["linear", "cosine", "cyclic_linear"]


def test_outline_lists_each_modifier_with_its_epochs(server: Session, workspace: Path) -> None:
    path = workspace / "outline.yaml"
    server.open(path, PRUNING)
    params = lsp.DocumentSymbolParams(lsp.TextDocumentIdentifier(path.as_uri()))
    found = server.run(server.client.text_document_document_symbol_async(params))
    assert [(s.name, [(c.name, c.detail, c.selection_range.start.line) for c in s.children or []]) for s in found] == [
        ("modifiers", [("GMPruningModifier", "epochs 2.5 → 8", 3), ("LearningRateFunctionModifier", "epochs 0 → 10", 11)])
    ]


# -- in-process: the early initialize reply, stdin, editor settings ----------------


@pytest.mark.parametrize(
    "capabilities",
    [
        {},
        {"general": {"positionEncodings": ["utf-8", "utf-16"]}},
        {"general": {"positionEncodings": ["x-unknown", "utf-32"]}, "notebookDocument": {"synchronization": {}}},
        {"textDocument": {"synchronization": {"willSave": True, "willSaveWaitUntil": True, "didSave": True}}},
    ],
)
def test_early_initialize_reply_equals_what_pygls_builds(capabilities: dict[str, Any]) -> None:
    from pygls.capabilities import ServerCapabilitiesBuilder

    from recipekit.lsp.capabilities import initialize_result
    from recipekit.lsp.server import server as built

    converter = built.protocol._converter
    client = converter.structure(capabilities, lsp.ClientCapabilities)
    encoding = ServerCapabilitiesBuilder.choose_position_encoding(client)
    fm = built.protocol.fm
    pygls = ServerCapabilitiesBuilder(
        client,
        set({**fm.features, **fm.builtin_features}.keys()),
        fm.feature_options,
        list(fm.commands.keys()),
        lsp.TextDocumentSyncKind.Incremental,
        None,
        encoding,
    ).build()
    result = {"capabilities": converter.unstructure(pygls), "serverInfo": {"name": "recipekit", "version": built.version}}
    assert initialize_result({"capabilities": capabilities}) == json.loads(json.dumps(result))


def test_recipe_lint_reads_standard_input_as_the_named_file(tmp_path: Path) -> None:
    (tmp_path / "recipe-lint.toml").write_text('per-file-ignores = {"sub/*.yaml" = ["L360"]}\n', encoding="utf-8")
    (tmp_path / "sub").mkdir()
    run = CliRunner()
    with _chdir(tmp_path):
        plain = run.invoke(cli.lint_command, ["-", "--format", "concise"], input=FIXABLE)
        named = run.invoke(cli.lint_command, ["-", "--stdin-filename", "sub/r.yaml", "--format", "concise"], input=FIXABLE)
        other = run.invoke(cli.lint_command, ["-", "--stdin-filename", "r.yaml", "--format", "concise"], input=FIXABLE)
        markdown = run.invoke(cli.lint_command, ["-", "--stdin-filename", "r.md", "--format", "concise"], input=FIXABLE)
        both = run.invoke(cli.lint_command, ["-", "--fix"], input=FIXABLE)
    assert plain.exit_code == 0 and plain.stdout.startswith("<stdin>:3:20: L360 [*] 1e-3 is a string")
    assert named.exit_code == 0 and named.stdout == "Checked 1 file: no problems.\n"  # its per-file ignore
    assert other.stdout.startswith("r.yaml:3:20: L360")
    assert markdown.exit_code == 1 and markdown.stdout.startswith("r.md:1:1: P105")
    assert both.exit_code == 2 and "without --fix" in both.stderr


def test_stdin_from_a_real_pipe_exits_like_a_file() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "recipekit", "lint", "-", "--format", "json"], input=BROKEN, capture_output=True, text=True, check=False
    )
    assert result.returncode == 1
    assert [d["code"] for d in json.loads(result.stdout)] == ["S201", "L360", "L306", "L360"]


def test_editor_settings_list_every_modifier_tag() -> None:
    from recipekit import schema

    result = CliRunner().invoke(cli.main, ["lsp", "--editor-settings"])
    settings = json.loads(result.stdout)
    assert settings["yaml.yamlVersion"] == "1.1"
    tags = settings["yaml.customTags"]
    assert "!GMPruningModifier mapping" in tags and "!pytorch.GMPruningModifier mapping" in tags
    assert len(tags) == 2 * len(schema.modifier_types())


def test_lsp_without_pygls_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pygls", None)
    result = CliRunner().invoke(cli.main, ["lsp"])
    assert result.exit_code == 1 and result.stdout == ""
    assert (
        result.stderr == "Error: recipekit lsp runs on pygls, which is not installed here; install it with: pip install 'recipekit[lsp]'\n"
    )


def test_docs_editors_covers_each_editor_and_its_snippets_parse() -> None:
    """docs/editors.md: a section per editor, the settings command, and each TOML and JSON snippet well-formed."""
    text = (ROOT / "docs" / "editors.md").read_text(encoding="utf-8")
    assert "recipekit lsp --editor-settings" in text
    for heading in ("Neovim", "Helix", "Emacs", "VS Code"):
        assert re.search(rf"^## .*{heading}", text, re.M), heading
    if sys.version_info >= (3, 11):
        import tomllib

        for block in re.findall(r"```toml\n(.*?)```", text, re.S):
            tomllib.loads(block)
    blocks = re.findall(r"```json\n(.*?)```", text, re.S)
    assert len(blocks) == 2
    for block in blocks:
        json.loads(block)


def test_boot_answers_without_pygls_and_the_server_never_imports_torch() -> None:
    code = (
        "import sys\n"
        "import recipekit.lsp.boot\n"
        "print('lsprotocol' in sys.modules, 'pygls' in sys.modules)\n"
        "import recipekit.lsp.server, recipekit.lsp.hover, recipekit.lsp.complete, recipekit.lsp.outline\n"
        "print('torch' in sys.modules, 'numpy' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout == "False False\nFalse False\n"


@pytest.mark.parametrize(("encoding", "after_emoji"), [("utf-16", 5), ("utf-8", 7), ("utf-32", 4)])
def test_positions_convert_both_ways_on_crlf_lines(encoding: str, after_emoji: int) -> None:
    from recipekit.lsp.positions import to_offset, to_units
    from recipekit.source import Source

    source = Source("r.yaml", "a: 1\r\nb: \U0001f600x\r\nc\n")
    offset = source.text.index("x")
    line, column = source.line_col(offset)
    assert to_units(source, line, column, encoding) == (1, after_emoji)
    assert to_offset(source, 1, after_emoji, encoding) == offset
    assert to_offset(source, 9, 0, encoding) == len(source.text)  # past the end: clamped, no error


def test_walk_skips_what_git_ignores_and_virtual_environments(tmp_path: Path) -> None:
    from recipekit.lint.discovery import Walk, walk_skips

    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / ".gitignore").write_text("generated/\n", encoding="utf-8")
    (tmp_path / "env").mkdir()
    (tmp_path / "env" / "pyvenv.cfg").write_text("", encoding="utf-8")
    for relative in ("generated/r.yaml", "env/r.yaml", "recipes/r.yaml", "build/r.yaml"):
        (tmp_path / relative).parent.mkdir(exist_ok=True)
        (tmp_path / relative).write_text(BROKEN, encoding="utf-8")
    skipped = {
        relative: walk_skips(tmp_path, tmp_path / relative)
        for relative in ("generated/r.yaml", "env/r.yaml", "recipes/r.yaml", "build/r.yaml")
    }
    assert skipped == {"generated/r.yaml": True, "env/r.yaml": True, "recipes/r.yaml": False, "build/r.yaml": True}
    # The same answer as a `recipe-lint DIRECTORY` walk.
    assert [p.relative_to(tmp_path).as_posix() for p in Walk().walk(tmp_path)] == ["recipes/r.yaml"]
