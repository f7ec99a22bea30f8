"""Group commit: every write goes through one connection, and concurrent writes share a commit.

A write is a function of the connection, or an item for a batch function that
writes many items of one kind at once (`submit_item`, used for conversation
turns: one executemany per statement instead of one execute per turn). Writes
submitted while a commit is in progress wait and then go together in the next
transaction. A write's future resolves only after the transaction holding it has
committed (with synchronous=FULL, fsynced), so callers may act on the result:
that is what makes "stored before sent" hold at thousands of turns per second.

If any write in a batch raises, the transaction is rolled back and the batch
runs again with each write in its own savepoint, so one failing write fails alone.

The statements run in the event loop's thread and only COMMIT (the fsync) runs in
a worker thread. Statement execution is mostly Python work that holds the GIL; in
a second thread it would fight the loop for it (every executemany row re-takes the
GIL) and both would crawl. COMMIT is one C call that releases the GIL throughout,
so the loop prepares the next batch while the disk syncs the last one. SQLite's
automatic WAL checkpoint runs inside COMMIT too, so it delays one batch, never the
loop.
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
R = TypeVar("R")
Write = Callable[[sqlite3.Connection], Any]
# writes many items of one kind; returns one result per item, in order
BatchWrite = Callable[[sqlite3.Connection, list[Any]], list[Any]]
# (batch function or None for a plain write, the write or the item, its future)
_Pending = tuple[BatchWrite | None, Any, asyncio.Future[Any]]

MAX_BATCH = 2_000


class WriterClosed(RuntimeError):
    """Raised for writes submitted after `close()`."""


class GroupCommitWriter:
    def __init__(self, connection: sqlite3.Connection, *, max_batch: int = MAX_BATCH) -> None:
        self._connection = connection
        self._max_batch = max_batch
        self._pending: list[_Pending] = []
        self._deferred: list[_Pending] = []
        self._deferred_timer: asyncio.TimerHandle | None = None
        self._wakeup = asyncio.Event()
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.commits = 0  # for benchmarks: how many transactions carried the writes

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="group-commit")

    def submit(self, write: Callable[[sqlite3.Connection], T]) -> asyncio.Future[T]:
        """Queue `write`; the future holds its result once its transaction has committed."""
        return self._queue(None, write)

    def submit_item(
        self, batch: Callable[[sqlite3.Connection, list[Any]], list[R]], item: Any
    ) -> asyncio.Future[R]:
        """Queue `item` for `batch`, which writes all queued items of its kind together."""
        return self._queue(batch, item)

    def submit_later(self, write: Callable[[sqlite3.Connection], Any], *, within: float) -> None:
        """Queue a write that rides along with the next commit, or gets one of its own after
        `within` seconds, rather than costing a commit now. Nobody waits for it; failures
        are logged."""
        if self._closing:
            raise WriterClosed("the database writer is closed")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        future.add_done_callback(_log_failure)
        self._deferred.append((None, write, future))
        if self._deferred_timer is None:
            self._deferred_timer = asyncio.get_running_loop().call_later(within, self._wakeup.set)

    def _queue(self, batch: BatchWrite | None, work: Any) -> asyncio.Future[Any]:
        if self._closing:
            raise WriterClosed("the database writer is closed")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending.append((batch, work, future))
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
            while self._pending or self._deferred:
                batch = self._take_batch()
                try:
                    outcomes = self._execute(batch)
                    await loop.run_in_executor(self._thread, self._connection.execute, "COMMIT")
                    self.commits += 1
                except Exception as error:  # the commit itself failed: nothing in it is stored
                    log.exception("a batch of %d writes failed to commit", len(batch))
                    if self._connection.in_transaction:
                        self._connection.execute("ROLLBACK")
                    outcomes = [error] * len(batch)
                for (_, _, future), outcome in zip(batch, outcomes, strict=True):
                    if future.done():
                        continue
                    if isinstance(outcome, BaseException):
                        future.set_exception(outcome)
                    else:
                        future.set_result(outcome)
            if self._closing:
                return

    def _take_batch(self) -> list[_Pending]:
        batch = self._deferred + self._pending[: self._max_batch]
        del self._pending[: self._max_batch]
        self._deferred = []
        if self._deferred_timer is not None:
            self._deferred_timer.cancel()
            self._deferred_timer = None
        return batch

    def _execute(self, batch: list[_Pending]) -> list[Any]:
        """Run the batch's writes in an open transaction, left open for COMMIT."""
        try:
            return self._statements(batch, careful=False)
        except _WriteFailed:
            return self._statements(batch, careful=True)

    def _statements(self, batch: list[_Pending], *, careful: bool) -> list[Any]:
        connection = self._connection
        outcomes: list[Any] = []
        connection.execute("BEGIN IMMEDIATE")
        try:
            for group_writer, group in _groups(batch, careful=careful):
                if careful:
                    connection.execute("SAVEPOINT one_write")
                try:
                    if group_writer is None:
                        outcomes.append(group[0](connection))
                    else:
                        outcomes.extend(group_writer(connection, group))
                except Exception as error:
                    if not careful:
                        raise _WriteFailed from error
                    connection.execute("ROLLBACK TO one_write")
                    outcomes.append(error)
                if careful:
                    connection.execute("RELEASE one_write")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        return outcomes


def _log_failure(future: asyncio.Future[Any]) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.error("a deferred write failed: %s", future.exception())


class _WriteFailed(Exception):
    """A write raised: the batch is rolled back and retried one write at a time."""


def _groups(batch: list[_Pending], *, careful: bool) -> list[tuple[BatchWrite | None, list[Any]]]:
    """Consecutive items of the same batch function go together, in submission order."""
    groups: list[tuple[BatchWrite | None, list[Any]]] = []
    for batch_write, work, _ in batch:
        if not careful and batch_write is not None and groups and groups[-1][0] is batch_write:
            groups[-1][1].append(work)
        else:
            groups.append((batch_write, [work]))
    return groups
