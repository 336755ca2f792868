"""Write files atomically: a temporary file in the same directory, then a rename.

A crash, a full disk or Ctrl-C never leaves half a plan, report or manifest behind. Kept apart
from the plan model so that `recipe-lint` imports it (and tempfile) only when it writes a file.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from typing import TextIO


def write_atomically(path: str | os.PathLike[str], text: str) -> None:
    """Write via a temporary file and a rename, so a crash never leaves half a file."""
    with open_atomically(path) as stream:
        stream.write(text)


@contextlib.contextmanager
def open_atomically(path: str | os.PathLike[str]) -> Iterator[TextIO]:
    """A text stream to a temporary file that replaces ``path`` only when the block completes."""
    # os.path, not pathlib (~2 ms of recipe-lint's cold start, which imports this module).
    target = os.fspath(path)
    import tempfile  # with shutil, bz2, lzma and random: ~9 ms nobody needs unless a file is written

    handle, temporary = tempfile.mkstemp(prefix=f".{os.path.basename(target)}.", dir=os.path.dirname(target) or ".")
    try:
        # mkstemp creates 0600; a plan or report is an ordinary file, so give it the mode `open()`
        # would have: the existing file's (a `--fix` keeps a recipe's mode), else 0666 minus the umask.
        os.fchmod(handle, _mode_for(target))
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            yield stream
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def _mode_for(target: str) -> int:
    try:
        return stat.S_IMODE(os.stat(target).st_mode)
    except OSError:
        return 0o666 & ~_umask()


def _umask() -> int:
    # The only portable way to read the umask is to set it; put it back at once.
    current = os.umask(0o022)
    os.umask(current)
    return current
