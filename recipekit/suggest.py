"""Did-you-mean suggestions for misspelled names."""

from __future__ import annotations

from collections.abc import Iterable


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """Return ``"; did you mean 'x'?"`` or an empty string."""
    options = list(candidates)
    lowered = {c.lower(): c for c in options}
    if name.lower() in lowered:
        return f"; did you mean {lowered[name.lower()]!r}?"
    import difflib  # only when a name is misspelled

    matches = difflib.get_close_matches(name, options, n=1, cutoff=0.6)
    return f"; did you mean {matches[0]!r}?" if matches else ""
