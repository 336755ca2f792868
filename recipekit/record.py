"""Value classes that cost nothing to define.

``@dataclass`` writes and compiles the methods of each class when its module is
imported: about 0.6 ms for a frozen class on this project's reference machine.
recipe-lint's whole cold start is measured against one run of yamllint (about
80 ms), and the 34 data classes on its path cost 20 ms of it.  So those classes
are written out instead: ``__slots__`` and an explicit ``__init__`` (as quick to
construct as a dataclass), attributes marked ``Final`` where the class is a
value, and equality, hashing and ``repr`` by field from the bases here.
"""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter
from typing import Any, ClassVar


class Record:
    """Equality, hashing and ``repr`` over the fields, i.e. the ``__slots__`` of the class and its bases.

    Slots whose name starts with ``_`` (caches) and those named in ``_not_compared`` are
    left out of all three.  Equal records have the same class.
    """

    __slots__ = ()
    _not_compared: ClassVar[tuple[str, ...]] = ()
    _fields: ClassVar[tuple[str, ...]] = ()
    _values: ClassVar[Callable[[Any], Any]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        slots = [name for klass in reversed(cls.__mro__) for name in vars(klass).get("__slots__", ())]
        cls._fields = tuple(name for name in slots if not name.startswith("_") and name not in cls._not_compared)
        # One C-level call that fetches every field: `==` and `hash` stay as cheap as a dataclass's.
        cls._values = attrgetter(*cls._fields) if cls._fields else lambda _: ()

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        values = type(self)._values
        return bool(values(self) == values(other))

    def __hash__(self) -> int:
        return hash(type(self)._values(self))

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
        return f"{type(self).__name__}({fields})"


class MutableRecord(Record):
    """A :class:`Record` whose fields change after construction: equal by value, so not hashable."""

    __slots__ = ()
    __hash__ = None  # type: ignore[assignment]
