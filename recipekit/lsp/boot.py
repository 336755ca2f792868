"""Start the server, answering ``initialize`` before pygls is imported.

Importing pygls costs about half a second, nearly all of it ``lsprotocol.types`` building
its thousand attrs classes: three cold `recipe-lint` runs. Nothing in the reply to
``initialize`` needs pygls, though: the capabilities are fixed by the features this server
registers, and the position encoding is the first of the client's ``general.positionEncodings``
that LSP defines (pygls's own rule, ``ServerCapabilitiesBuilder.choose_position_encoding``).
So this module (standard library only) reads the request, replies, and then imports the
server and replays the request into it, so that pygls sets up its workspace and encoding as
usual; pygls's own reply is not sent twice. ``tests/test_lsp.py`` checks that the reply
(:mod:`recipekit.lsp.capabilities`) equals the one pygls builds, for several clients.

The client's next messages wait in the pipe while pygls loads, and are answered in order.
"""

from __future__ import annotations

import json
import sys
from typing import IO, Any

from recipekit.lsp.capabilities import initialize_result


def _read_message(stream: IO[bytes]) -> bytes:
    """One JSON-RPC message, headers included, as read (b"" at end of input)."""
    raw = b""
    length = None
    while True:
        line = stream.readline()
        if not line:
            return b""
        raw += line
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
        if line in (b"\r\n", b"\n") and length is not None:
            return raw + stream.read(length)


def _frame(message: dict[str, Any]) -> bytes:
    body = json.dumps(message).encode("utf-8")
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


class _Replay:
    """Standard input with the bytes already read put back in front."""

    def __init__(self, prefix: bytes, stream: IO[bytes]) -> None:
        self.prefix = prefix
        self.stream = stream

    def readline(self) -> bytes:
        if self.prefix:
            line, sep, rest = self.prefix.partition(b"\n")
            self.prefix = rest
            return line + sep
        return self.stream.readline()

    def read(self, size: int) -> bytes:
        if self.prefix:
            taken, self.prefix = self.prefix[:size], self.prefix[size:]
            return taken + (self.stream.read(size - len(taken)) if len(taken) < size else b"")
        return self.stream.read(size)


class _Output:
    """Standard output that drops pygls's reply to the ``initialize`` already answered."""

    def __init__(self, stream: IO[bytes], answered: Any, sent: dict[str, Any]) -> None:
        self.stream = stream
        self.answered = answered
        self.sent = sent

    def write(self, data: bytes) -> None:
        if self.answered is not None:
            body = json.loads(data.partition(b"\r\n\r\n")[2] or b"{}")
            if body.get("id") == self.answered and ("result" in body or "error" in body):
                self.answered = None
                if body.get("result") != self.sent:
                    # A pygls upgrade changed what it registers: say so, the early reply may be stale.
                    sys.stderr.write(f"recipekit lsp: the early initialize reply differs from pygls's: {body!r}\n")
                return
        self.stream.write(data)
        self.stream.flush()

    def flush(self) -> None:
        self.stream.flush()

    def close(self) -> None:
        self.stream.close()


def serve() -> None:
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    first = _read_message(stdin)
    answered, sent = None, {}
    if first:
        request = json.loads(first.partition(b"\r\n\r\n")[2] or first.partition(b"\n\n")[2])
        if request.get("method") == "initialize" and "id" in request:
            answered, sent = request["id"], initialize_result(request.get("params") or {})
            stdout.write(_frame({"jsonrpc": "2.0", "id": answered, "result": sent}))
            stdout.flush()
    from recipekit.lsp.server import server

    server.start_io(_Replay(first, stdin), _Output(stdout, answered, sent))  # type: ignore[arg-type]
