"""Explicit, persistable state for the rules: tables that remember which keys changed.

Rules keep everything they must remember in :class:`StateTable` instances (plain dicts from
the rule's point of view). The worker writes the changed keys of every table to a compacted
changelog topic before it commits the input offsets, and rebuilds the tables from that topic
when a partition is assigned (restart, rebalance); offline runs simply ignore the change log.

Values must be picklable and are treated as immutable: replace a value (``table[k] = new``)
rather than mutating it in place, or call :meth:`StateTable.touch` after an in-place change.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

V = TypeVar("V")


class StateTable(dict[str, V], Generic[V]):
    """A dict of string keys that records which keys were set or deleted since the last
    :meth:`take_changes`.

    ``on_restore(key, old, new)``, if given, is called by :meth:`restore` after it applied a
    record (``old``/``new``: the value before/after, ``None`` when absent), so the owner can
    rebuild what it derives in memory. ``before_take()``, if given, is called at the start of
    :meth:`take_changes`, so the owner can bring the table up to date before it is written.
    ``to_log(value)`` and ``from_log(logged)``, if given, turn a value into what the change log
    pickles and back (a form cheaper to pickle); ``from_log`` must also read what older
    versions wrote.
    """

    def __init__(
        self,
        name: str,
        *,
        on_restore: Callable[[str, V | None, V | None], None] | None = None,
        before_take: Callable[[], None] | None = None,
        to_log: Callable[[V], Any] | None = None,
        from_log: Callable[[Any], V] | None = None,
    ) -> None:
        super().__init__()
        self.name = name
        self.to_log: Callable[[V], Any] = _same if to_log is None else to_log
        self.from_log: Callable[[Any], V] = _same if from_log is None else from_log
        self._dirty: set[str] = set()
        self._on_restore = on_restore
        self._before_take = before_take

    def __setitem__(self, key: str, value: V) -> None:
        super().__setitem__(key, value)
        self._dirty.add(key)

    def __delitem__(self, key: str) -> None:
        super().__delitem__(key)
        self._dirty.add(key)

    def pop(self, key: str, *default: Any) -> Any:
        if key in self:
            self._dirty.add(key)
        return super().pop(key, *default)

    def setdefault(self, key: str, default: Any = None) -> Any:
        if key not in self:
            self[key] = default
        return self[key]

    def update(self, *args: Any, **kwargs: Any) -> None:
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def clear(self) -> None:
        self._dirty.update(self.keys())
        super().clear()

    def popitem(self) -> tuple[str, V]:
        key, value = super().popitem()
        self._dirty.add(key)
        return key, value

    def touch(self, key: str) -> None:
        """Mark a key changed after mutating its value in place."""
        self._dirty.add(key)

    def take_changes(self) -> Iterator[tuple[str, V | None, bool]]:
        """(key, value, present) for every key changed since the last call; then forget them."""
        if self._before_take is not None:
            self._before_take()
        return self._changes()

    def _changes(self) -> Iterator[tuple[str, V | None, bool]]:
        dirty, self._dirty = self._dirty, set()
        for key in sorted(dirty):
            if key in self:
                yield key, dict.__getitem__(self, key), True
            else:
                yield key, None, False

    def restore(self, key: str, value: V | None) -> None:
        """Apply one change-log record (``None`` deletes) without marking the key changed."""
        old = dict.get(self, key)
        if value is None:
            dict.pop(self, key, None)
        else:
            dict.__setitem__(self, key, value)
        if self._on_restore is not None:
            self._on_restore(key, old, value)


def _same(value: Any) -> Any:
    return value


class Stateful:
    """Base of the rules: ``tables()`` lists every StateTable the rule keeps, by name."""

    def tables(self) -> dict[str, StateTable[Any]]:
        return {value.name: value for value in vars(self).values() if isinstance(value, StateTable)}
