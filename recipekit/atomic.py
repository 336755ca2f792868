"""Write files atomically: a temporary file in the same directory, then a rename.

A crash, a full disk or Ctrl-C never leaves half a plan, report or manifest behind. Kept apart
from the plan model so that `recipe-lint` imports it (and tempfile) only when it writes a file.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO


def write_atomically(path: str | os.PathLike[str], text: str) -> None:
    """Write via a temporary file and a rename, so a crash never leaves half a file."""
    with open_atomically(path) as stream:
        stream.write(text)


@contextlib.contextmanager
def open_atomically(path: str | os.PathLike[str]) -> Iterator[TextIO]:
    """A text stream to a temporary file that replaces ``path`` only when the block completes."""
    target = Path(path)
    import tempfile  # with shutil, bz2, lzma and random: ~9 ms nobody needs unless a file is written

    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent or ".")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            yield stream
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
