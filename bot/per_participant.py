"""Locks that make one participant's messages be handled one at a time, in arrival order."""

from __future__ import annotations

import asyncio


class ParticipantLocks:
    """A FIFO lock per key, kept only while someone holds or waits for it, so memory
    follows the number of busy participants, not of all participants."""

    def __init__(self) -> None:
        self._locks: dict[str, _KeyLock] = {}

    def hold(self, key: str) -> _KeyLock:
        """`async with serializer.hold(key):` runs the block alone for that key."""
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = _KeyLock(self._locks, key)
        return lock

    def __len__(self) -> int:
        return len(self._locks)


class _KeyLock:
    __slots__ = ("_key", "_lock", "_owner", "_users")

    def __init__(self, owner: dict[str, _KeyLock], key: str) -> None:
        self._owner = owner
        self._key = key
        self._lock = asyncio.Lock()
        self._users = 0

    async def __aenter__(self) -> None:
        self._users += 1
        try:
            await self._lock.acquire()
        except BaseException:
            self._release_user()
            raise

    async def __aexit__(self, *exc: object) -> None:
        self._lock.release()
        self._release_user()

    def _release_user(self) -> None:
        self._users -= 1
        if self._users == 0:
            del self._owner[self._key]
