"""One participant's messages handled one at a time, in arrival order, and their replies
sent in the same order."""

from __future__ import annotations

import asyncio
import functools
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any


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
    """First come, first served: a release hands the lock straight to the longest waiter.
    (Its own, not an asyncio.Lock: taken free at nearly every turn, where this costs half.)"""

    __slots__ = ("_held", "_key", "_owner", "_waiters")

    def __init__(self, owner: dict[str, _KeyLock], key: str) -> None:
        self._owner = owner
        self._key = key
        self._held = False
        self._waiters: deque[asyncio.Future[None]] = deque()

    async def __aenter__(self) -> None:
        if not self._held:
            self._held = True
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except BaseException:
            if not waiter.cancelled():  # handed the lock, then cancelled before it ran
                self._release()
            raise

    async def __aexit__(self, *exc: object) -> None:
        self._release()

    def _release(self) -> None:
        while self._waiters:  # a cancelled waiter stays queued until it comes round
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self._held = False
        del self._owner[self._key]


class InOrder:
    """Work per key that starts once the key's earlier work has finished, without anyone
    waiting for it: a turn's replies go out after the same person's earlier replies,
    while their next turn is already being stored."""

    def __init__(self) -> None:
        self._last: dict[str, asyncio.Task[Any]] = {}

    def then(self, key: str, work: Callable[[], Coroutine[Any, Any, object]]) -> asyncio.Task[Any]:
        earlier = self._last.get(key)
        started = work() if earlier is None else _after(earlier, work)  # the usual case: none
        task = asyncio.get_running_loop().create_task(started)
        self._last[key] = task
        task.add_done_callback(functools.partial(self._finished, key))
        return task

    def _finished(self, key: str, task: asyncio.Task[Any]) -> None:
        if self._last.get(key) is task:
            del self._last[key]

    async def settled(self) -> None:
        """Wait until all queued work is done."""
        while self._last:
            await asyncio.wait(list(self._last.values()))


async def _after(
    earlier: asyncio.Task[Any], work: Callable[[], Coroutine[Any, Any, object]]
) -> None:
    await asyncio.wait([earlier])  # how it ended is its own business
    await work()
