"""Recipe text with exact positions.

A :class:`Source` owns the decoded text of the *whole* file and the offsets of
the YAML inside it (all of it for ``.yaml``, the front matter for ``.md``), so
every later stage can report positions in the file the user actually opened.
Spans are code-point offsets into ``Source.text``; lines and columns are
computed on demand.
"""

from __future__ import annotations

import bisect
import os
import re
from typing import Final

from recipekit import limits
from recipekit.diagnostics import CODES, Diagnostic, Edit, Fix, Location, Note
from recipekit.record import MutableRecord, Record

RECIPE_SUFFIXES = (".yaml", ".yml", ".md")

# SparseML's own front-matter pattern (sparseml/optim/helpers.py): the opening
# delimiter must start a line, but the *closing* one is the first `---` or
# `+++` anywhere after it, even mid-line.  We read exactly what SparseML read
# and warn when that differs from what the author evidently meant.
_SPARSEML_FRONT_MATTER = re.compile(r"^\s*(?:---|\+\+\+)(.*?)(?:---|\+\+\+)", re.S | re.M)
_CLOSING_LINE = re.compile(r"^(?:---|\+\+\+)[ \t]*$", re.M)


class Span(Record):
    """Half-open range ``[start, end)`` of code-point offsets into ``Source.text``."""

    __slots__ = ("start", "end")

    def __init__(self, start: int, end: int) -> None:
        self.start: Final = start
        self.end: Final = end


class Source(MutableRecord):
    __slots__ = ("path", "text", "yaml_start", "yaml_end", "bom", "_line_starts")

    def __init__(self, path: str, text: str, yaml_start: int = 0, yaml_end: int = -1, bom: bool = False) -> None:
        self.path: Final = path
        self.text: Final = text
        #: Offset in ``text`` where the YAML starts and ends (-1: the end of the text).
        self.yaml_start: Final = yaml_start
        self.yaml_end: Final = yaml_end if yaml_end >= 0 else len(text)
        #: Whether the file started with a UTF-8 byte-order mark (not part of ``text``);
        #: set once the bytes are decoded.
        self.bom = bom
        self._line_starts: Final = [0] + [m.end() for m in re.finditer(r"\r\n|\n|\r(?!\n)", text)]

    @property
    def sha256(self) -> str:
        """sha256 of the file's bytes (valid UTF-8 decodes and re-encodes to the same bytes)."""
        import hashlib  # only compiled plans record it

        return hashlib.sha256((("\ufeff" if self.bom else "") + self.text).encode("utf-8")).hexdigest()

    @property
    def yaml_text(self) -> str:
        return self.text[self.yaml_start : self.yaml_end]

    def item_span(self, span: Span, item: str) -> Span:
        """The span of one list item written inside ``span`` (with its quotes), else ``span`` itself.

        For naming the one bad entry of ``params: [a, 're:b(']``; an item that came from a
        variable or an alias is not written there, so the whole value is named instead.
        """
        written = self.text[span.start : span.end]
        for match in re.finditer(re.escape(item), written):
            start, end = match.start(), match.end()
            before = written[start - 1] if start else ""
            after = written[end] if end < len(written) else ""
            if before in "'\"" and before and after == before:
                return Span(span.start + start - 1, span.start + end + 1)
            if before in ("", " ", "\t", "\n", "[", ",", "-") and after in ("", " ", "\t", "\r", "\n", "]", ",", "#"):
                return Span(span.start + start, span.start + end)
        return span

    def line_col(self, offset: int) -> tuple[int, int]:
        """1-based line and column of an offset (columns count code points)."""
        offset = max(0, min(offset, len(self.text)))
        index = bisect.bisect_right(self._line_starts, offset) - 1
        return index + 1, offset - self._line_starts[index] + 1

    def line_text(self, line: int) -> str:
        start = self._line_starts[line - 1]
        end = self._line_starts[line] if line < len(self._line_starts) else len(self.text)
        return self.text[start:end].rstrip("\r\n")

    def location(self, span: Span) -> Location:
        line, column = self.line_col(span.start)
        end = max(span.end, span.start)
        end_line, end_column = self.line_col(end)
        return Location(self.path, line, column, end_line, end_column)

    def diag(self, code: str, span: Span, message: str, notes: tuple[Note, ...] = (), fix: Fix | None = None) -> Diagnostic:
        return Diagnostic(code, CODES[code].severity, message, self.location(span), notes, fix)

    def fix(self, message: str, edits: list[tuple[Span, str]]) -> Fix:
        """A safe fix: replace each span's text (exact offsets into ``text``)."""
        return Fix(message, tuple(Edit(span.start, span.end, text, self.location(span)) for span, text in edits))

    def note(self, message: str, span: Span | None = None) -> Note:
        return Note(message, self.location(span) if span is not None else None)


def read_source(path: str | os.PathLike[str], display: str | None = None) -> tuple[Source | None, list[Diagnostic]]:
    """Read a recipe file; every problem with the bytes becomes a diagnostic."""
    name = display if display is not None else str(path)
    placeholder = Source(name, "")
    # os.path, not pathlib: importing pathlib costs ~2 ms of recipe-lint's cold start (urllib, ipaddress).
    file = os.fspath(path)
    suffix = os.path.splitext(file)[1].lower()
    if suffix not in RECIPE_SUFFIXES:
        message = f"unsupported file extension {suffix or '(none)'!r}; recipes are .yaml, .yml or .md files"
        return None, [placeholder.diag("P100", Span(0, 0), message)]
    try:
        size = os.stat(file).st_size
        if size > limits.MAX_FILE_BYTES:
            message = (
                f"file is {size} bytes, over the {limits.MAX_FILE_BYTES}-byte limit for a recipe; "
                "split it or check that this is really a recipe"
            )
            return None, [placeholder.diag("P102", Span(0, 0), message)]
        with open(file, "rb") as handle:
            data = handle.read()
    except OSError as error:
        return None, [placeholder.diag("P100", Span(0, 0), f"cannot read file: {error.strerror or error}")]
    return source_from_bytes(data, name, markdown=suffix == ".md")


def source_from_bytes(data: bytes, path: str, markdown: bool | None) -> tuple[Source | None, list[Diagnostic]]:
    if len(data) > limits.MAX_FILE_BYTES:
        message = f"recipe is {len(data)} bytes, over the {limits.MAX_FILE_BYTES}-byte limit"
        return None, [Source(path, "").diag("P102", Span(0, 0), message)]
    bom = data.startswith(b"\xef\xbb\xbf")
    if bom:
        # Editors do not count a byte-order mark as a column, and neither do we.
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        prefix = data[: error.start].decode("utf-8", errors="replace")
        where = Source(path, prefix + "?")
        message = f"invalid UTF-8 byte 0x{data[error.start]:02x}; save the recipe as UTF-8"
        return None, [where.diag("P103", Span(len(prefix), len(prefix) + 1), message)]
    source, diagnostics = source_from_text(text, path, markdown)
    if source is not None:
        source.bom = bom
    return source, diagnostics


def source_from_text(text: str, path: str, markdown: bool | None) -> tuple[Source | None, list[Diagnostic]]:
    """``markdown=None`` decides as SparseML did for recipe strings: front matter if any, else all."""
    text = text.removeprefix("\ufeff")
    nul = text.find("\x00")
    if nul >= 0:
        source = Source(path, text)
        message = "NUL byte in recipe; recipes are text files"
        return None, [source.diag("P104", Span(nul, nul + 1), message)]
    if markdown is None:
        markdown = _SPARSEML_FRONT_MATTER.search(text) is not None
    if not markdown:
        return Source(path, text), []
    return _front_matter(Source(path, text))


def _front_matter(source: Source) -> tuple[Source | None, list[Diagnostic]]:
    text = source.text
    match = _SPARSEML_FRONT_MATTER.search(text)
    if match is None:
        message = "Markdown recipe has no YAML front matter; put the recipe between two `---` lines at the top of the file"
        return None, [source.diag("P105", Span(0, 0), message)]
    start, end = match.span(1)
    result = Source(source.path, text, yaml_start=start, yaml_end=end)
    diagnostics: list[Diagnostic] = []
    closing_line_start = text.rfind("\n", 0, end) + 1
    if text[closing_line_start:end].strip() or not _CLOSING_LINE.match(text, end):
        intended = _CLOSING_LINE.search(text, end)
        notes: tuple[Note, ...] = ()
        if intended is not None:
            notes = (result.note("the front matter was probably meant to end here", Span(intended.start(), intended.end())),)
        message = (
            "the front matter ends at this `" + text[end : end + 3] + "` inside a line, as SparseML reads it; "
            "everything after it is ignored. Remove the delimiter characters from this line"
        )
        diagnostics.append(result.diag("P114", Span(end, end + 3), message, notes))
    return result, diagnostics


def snippet_source(path: str | os.PathLike[str]) -> Source | None:
    """Text to show snippets from, also when the file could not be loaded as a recipe."""
    source, _ = read_source(path)
    if source is not None:
        return source
    try:
        with open(path, "rb") as handle:
            text = handle.read(limits.MAX_FILE_BYTES).decode("utf-8", errors="replace")
    except OSError:
        return None
    return Source(str(path), text)
