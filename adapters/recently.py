"""Tables that remember only their most recently used entries, for adapters' memory
of users, sessions and addresses: bounded, whoever sends what."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")


def remember(table: OrderedDict[K, V], key: K, value: V, *, most: int) -> None:
    """Store `value` as the newest entry, forgetting the oldest beyond `most`."""
    table[key] = value
    table.move_to_end(key)
    if len(table) > most:
        table.popitem(last=False)


def used(table: OrderedDict[K, V], key: K, make: Callable[[], V], *, most: int) -> V:
    """The entry for `key`, now the newest; made if there was none, forgetting the
    oldest beyond `most`."""
    entry = table.get(key)
    if entry is None:
        entry = make()
    remember(table, key, entry, most=most)
    return entry
