"""Group commit: every write goes through one connection, and concurrent writes share a commit.

A write is a function of the connection. Writes submitted while a commit is in
progress wait and then go together in the next transaction, each in its own
savepoint so that one failing write fails alone. A write's future resolves only
after the transaction holding it has committed (and, with synchronous=FULL, been
fsynced), so callers may act on the result: that is what makes "stored before
sent" hold at thousands of turns per second.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
Write = Callable[[sqlite3.Connection], Any]

MAX_BATCH = 2_000


class WriterClosed(RuntimeError):
    """Raised for writes submitted after `close()`."""


class GroupCommitWriter:
    def __init__(self, connection: sqlite3.Connection, *, max_batch: int = MAX_BATCH) -> None:
        self._connection = connection
        self._max_batch = max_batch
        self._pending: list[tuple[Write, asyncio.Future[Any]]] = []
        self._wakeup = asyncio.Event()
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.commits = 0  # for benchmarks: how many transactions carried the writes

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="group-commit")

    def submit(self, write: Callable[[sqlite3.Connection], T]) -> asyncio.Future[T]:
        """Queue `write`; the future holds its result once its transaction has committed."""
        if self._closing:
            raise WriterClosed("the database writer is closed")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._pending.append((write, future))
        self._wakeup.set()
        return future

    async def write(self, write: Callable[[sqlite3.Connection], T]) -> T:
        return await self.submit(write)

    async def close(self) -> None:
        """Commit everything already submitted, then stop."""
        self._closing = True
        self._wakeup.set()
        if self._task is not None:
            await self._task
        self._thread.shutdown(wait=True)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._pending:
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
                try:
                    outcomes = await loop.run_in_executor(self._thread, self._commit, batch)
                except Exception as error:  # the commit itself failed: nothing in it is stored
                    log.exception("a batch of %d writes failed to commit", len(batch))
                    outcomes = [error] * len(batch)
                for (_, future), outcome in zip(batch, outcomes, strict=True):
                    if future.done():
                        continue
                    if isinstance(outcome, BaseException):
                        future.set_exception(outcome)
                    else:
                        future.set_result(outcome)
            if self._closing:
                return

    def _commit(self, batch: list[tuple[Write, asyncio.Future[Any]]]) -> list[Any]:
        connection = self._connection
        outcomes: list[Any] = []
        connection.execute("BEGIN IMMEDIATE")
        try:
            for write, _ in batch:
                connection.execute("SAVEPOINT one_write")
                try:
                    outcomes.append(write(connection))
                except Exception as error:
                    connection.execute("ROLLBACK TO one_write")
                    outcomes.append(error)
                connection.execute("RELEASE one_write")
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
        self.commits += 1
        return outcomes
