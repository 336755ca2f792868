"""Positions in the client's encoding.

recipekit counts code points; LSP counts UTF-16 code units unless the client negotiated
``utf-8`` or ``utf-32`` at initialize (LSP 3.17 ``general.positionEncodings``). A character
outside the Basic Multilingual Plane (an emoji) is one code point, two UTF-16 units and four
UTF-8 bytes, so every column is converted on its own line's text.
"""

from __future__ import annotations

from recipekit.source import Source

UTF8, UTF16, UTF32 = "utf-8", "utf-16", "utf-32"


def units(text: str, encoding: str) -> int:
    """How many units of ``encoding`` the code points of ``text`` take."""
    if encoding == UTF32:
        return len(text)
    if encoding == UTF8:
        return len(text.encode("utf-8", "surrogatepass"))
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def to_units(source: Source, line: int, column: int, encoding: str) -> tuple[int, int]:
    """recipekit's 1-based line and code-point column → LSP's 0-based line and unit character."""
    if line < 1:
        return 0, 0
    return line - 1, units(source.line_text(line)[: column - 1], encoding)


def to_offset(source: Source, line: int, character: int, encoding: str) -> int:
    """LSP's 0-based line and unit character → a code-point offset into ``source.text``."""
    if line < 0:
        return 0
    last = source.line_col(len(source.text))[0]
    if line + 1 > last:
        return len(source.text)
    text = source.line_text(line + 1)
    start = _line_start(source, line + 1)
    if encoding == UTF32:
        return start + min(character, len(text))
    counted = 0
    for index, char in enumerate(text):
        if counted >= character:
            return start + index
        counted += units(char, encoding)
    return start + len(text)


def _line_start(source: Source, line: int) -> int:
    """The offset of a 1-based line's first character (bisect over the lines, via line_col)."""
    low, high = 0, len(source.text)
    while low < high:  # the first offset whose line is ``line``
        middle = (low + high) // 2
        if source.line_col(middle)[0] < line:
            low = middle + 1
        else:
            high = middle
    return low
