"""`recipekit lsp` latency: start-up against a cold `recipe-lint`, and didChange → diagnostics
against an in-process lint of the same text. Prints ratios and absolute medians, no pass/fail.

1. Start-up: spawning `recipekit lsp` until its reply to ``initialize``, against a whole
   `recipe-lint RECIPE` run on the typical recipe bench/lint_coldstart.py uses, alternated
   (A B A B ...) so machine noise hits both alike; the ratio is the median of per-pair
   ratios (goal <= 2). Also printed: spawn until the first
   published diagnostics of an opened recipe, the time a user waits for the first squiggle.
2. Typing: one server; each round sends a ``didChange`` of the largest corpus recipe (a
   comment edited, so the lint does the same work) and waits for the diagnostics of that
   version; each round is paired with an in-process ``lint_text`` of the same text in this
   process (warm, as the server is). Ratio: median of per-pair ratios (goal <= 1.5).

The client is a few lines of raw JSON-RPC over pipes here, so no client library's cost is
counted. Both commands come from this interpreter's environment (.venv: both pay the same
editable-install finder). Run: .venv/bin/python bench/lsp_latency.py [LARGE_RECIPE]
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
CORPUS = ROOT.parent / "shared" / "corpus"
PAIRS = 11
TYPICAL = CORPUS / "sparseml" / "tests__sparseml__sparsification__recipes__resnet18.yaml"
ROUNDS = 30


def largest_recipe() -> Path:
    if CORPUS.exists():
        found = [p for p in CORPUS.rglob("*") if p.suffix in (".yaml", ".yml", ".md") and p.is_file()]
        if found:
            return max(found, key=lambda p: p.stat().st_size)
    return ROOT / "examples" / "recipe.yaml"


def send(stream: IO[bytes], message: dict[str, Any]) -> None:
    body = json.dumps(message).encode("utf-8")
    stream.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
    stream.flush()


def receive(stream: IO[bytes]) -> dict[str, Any]:
    length = 0
    while True:
        line = stream.readline()
        if not line:
            raise EOFError("the server closed its output")
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
        elif line in (b"\r\n", b"\n"):
            message: dict[str, Any] = json.loads(stream.read(length))
            return message


def wait_for(stream: IO[bytes], want: Any) -> dict[str, Any]:
    while True:
        message = receive(stream)
        if want(message):
            return message


class Server:
    def __init__(self, cwd: Path) -> None:
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            [str(BIN / "recipekit"), "lsp"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=cwd
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self.stdin, self.stdout = self.process.stdin, self.process.stdout

    def initialize(self, root: Path) -> float:
        send(self.stdin, {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"capabilities": {}, "rootUri": root.as_uri()}})
        wait_for(self.stdout, lambda m: m.get("id") == 1)
        elapsed = time.perf_counter() - self.started
        send(self.stdin, {"jsonrpc": "2.0", "method": "initialized", "params": {}})
        return elapsed

    def open(self, uri: str, text: str) -> None:
        item = {"uri": uri, "languageId": "yaml", "version": 1, "text": text}
        send(self.stdin, {"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": item}})
        self.diagnostics(uri, 1)

    def change(self, uri: str, version: int, text: str) -> None:
        params = {"textDocument": {"uri": uri, "version": version}, "contentChanges": [{"text": text}]}
        send(self.stdin, {"jsonrpc": "2.0", "method": "textDocument/didChange", "params": params})
        self.diagnostics(uri, version)

    def diagnostics(self, uri: str, version: int) -> dict[str, Any]:
        return wait_for(
            self.stdout,
            lambda m: (
                m.get("method") == "textDocument/publishDiagnostics" and m["params"]["uri"] == uri and m["params"].get("version") == version
            ),
        )

    def close(self) -> None:
        send(self.stdin, {"jsonrpc": "2.0", "id": 99, "method": "shutdown"})
        wait_for(self.stdout, lambda m: m.get("id") == 99)
        send(self.stdin, {"jsonrpc": "2.0", "method": "exit"})
        self.process.wait(timeout=10)


def timed_lint(recipe: Path, cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run([str(BIN / "recipe-lint"), str(recipe)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False, cwd=cwd)
    return time.perf_counter() - start


def startup(recipe: Path, scratch: Path) -> None:
    text = recipe.read_text(encoding="utf-8")
    uri = recipe.as_uri()
    pairs, first = [], []
    timed_lint(recipe, scratch)  # warm the file cache
    for _ in range(PAIRS):
        server = Server(scratch)
        reply = server.initialize(scratch)
        server.open(uri, text)
        first.append(time.perf_counter() - server.started)
        server.close()
        pairs.append((reply, timed_lint(recipe, scratch)))
    print(f"start-up, {PAIRS} interleaved pairs, on {recipe.name}")
    print(f"  spawn → initialize reply:        {statistics.median(a for a, _ in pairs) * 1000:7.1f} ms (median)")
    print(f"  recipe-lint cold run:            {statistics.median(b for _, b in pairs) * 1000:7.1f} ms (median)")
    print(f"  spawn → first diagnostics:       {statistics.median(first) * 1000:7.1f} ms (median)")
    print(f"  ratio initialize / recipe-lint:  {statistics.median(a / b for a, b in pairs):.2f}   (goal <= 2)")
    ratios = [f / b for f, (_, b) in zip(first, pairs, strict=True)]
    print(f"  ratio first diagnostics / recipe-lint: {statistics.median(ratios):.2f}   (for information: pygls loads after the reply)")


def typing(recipe: Path, scratch: Path) -> None:
    from recipekit.lint.config import LintConfig
    from recipekit.lint.linter import lint_text

    text = recipe.read_text(encoding="utf-8")
    uri = recipe.as_uri()
    server = Server(scratch)
    server.initialize(scratch)
    server.open(uri, text)
    config = LintConfig()
    lint_text(str(recipe), text, False, config, {}, None)  # warm, as the server is
    pairs = []
    for version in range(2, ROUNDS + 2):
        edited = text + f"\n# edit {version}\n"
        start = time.perf_counter()
        server.change(uri, version, edited)
        served = time.perf_counter() - start
        start = time.perf_counter()
        lint_text(str(recipe), edited, False, config, {}, None)
        pairs.append((served, time.perf_counter() - start))
    server.close()
    print(f"didChange → diagnostics, {ROUNDS} interleaved pairs, on {recipe.name} ({len(text)} characters)")
    print(f"  didChange → publishDiagnostics:  {statistics.median(a for a, _ in pairs) * 1000:7.1f} ms (median)")
    print(f"  in-process lint of the text:     {statistics.median(b for _, b in pairs) * 1000:7.1f} ms (median)")
    print(f"  ratio served / in-process:       {statistics.median(a / b for a, b in pairs):.2f}   (goal <= 1.5)")


def main() -> None:
    large = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else largest_recipe()
    typical = TYPICAL if TYPICAL.exists() else ROOT / "examples" / "plain.yaml"
    # Outside any checkout or configuration, as a user's recipe folder would be.
    scratch = Path(tempfile.mkdtemp())
    copies = []
    for recipe in (typical, large):
        copies.append(scratch / recipe.name)
        copies[-1].write_bytes(recipe.read_bytes())
    os.chdir(scratch)
    startup(copies[0], scratch)
    typing(copies[1], scratch)


if __name__ == "__main__":
    main()
