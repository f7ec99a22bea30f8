"""Group commit on PostgreSQL: the writes submitted while a transaction is in flight go
together into the next one, on a connection of the pool, in a thread of its own.

It takes the same writes as SQLite's writer (storage/writer.py) and commits them the
same way (`storage.write_process.commit`: one transaction, each write in a savepoint
of its own when one fails), so a write's future resolves only once its transaction
has committed. One transaction is in flight per worker: what a turn costs is then a
share of one round of statements and one commit, however many turns arrive together.
Other workers commit beside it; the database orders them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from psycopg_pool import ConnectionPool

from storage.postgres_connection import PgConnection
from storage.write_process import BatchWrite, commit
from storage.writer import WriterClosed, log_failure, settle

log = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")
_Pending = tuple[BatchWrite | None, Any, asyncio.Future[Any]]


class PoolWriter:
    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="postgres-writer")
        self._pending: list[_Pending] = []
        self._deferred: list[_Pending] = []
        self._deferred_timer: asyncio.TimerHandle | None = None
        self._wakeup = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task[None] | None = None
        self.commits = 0
        self.restarts = 0  # nothing restarts: the pool replaces a broken connection

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="postgres-commit")

    def submit_item(
        self, batch: Callable[[Any, list[Any]], list[R]], item: Any
    ) -> asyncio.Future[R]:
        return self._queue(self._pending, batch, item)

    async def write(self, write: Callable[[Any], T]) -> T:
        return await self._queue(self._pending, None, write)

    def submit_later(self, write: Callable[[Any], Any], *, within: float) -> None:
        future = self._queue(self._deferred, None, write, wake=False)
        future.add_done_callback(log_failure)
        if self._deferred_timer is None:
            self._deferred_timer = asyncio.get_running_loop().call_later(within, self._wakeup.set)

    async def close(self) -> None:
        """Commit everything already submitted, then stop."""
        self._closing = True
        self._wakeup.set()
        if self._task is not None:
            await self._task
        self._thread.shutdown(wait=True)

    def _queue(
        self, into: list[_Pending], batch: BatchWrite | None, work: Any, *, wake: bool = True
    ) -> asyncio.Future[Any]:
        if self._closing:
            raise WriterClosed("the database writer is closed")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        into.append((batch, work, future))
        if wake:
            self._wakeup.set()
        return future

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            if self._pending or self._deferred:
                batch = self._take_all()
                writes = [(write, work) for write, work, _ in batch]
                try:
                    outcomes = await loop.run_in_executor(self._thread, self._commit, writes)
                except Exception as error:  # the connection failed: nothing is known stored
                    log.error("a batch of %d writes failed: %s", len(batch), error)
                    outcomes = [error] * len(batch)
                self.commits += 1
                for (_, _, future), outcome in zip(batch, outcomes, strict=True):
                    settle(future, outcome)
            if self._closing and not self._pending and not self._deferred:
                return

    def _take_all(self) -> list[_Pending]:
        batch, self._deferred, self._pending = self._deferred + self._pending, [], []
        if self._deferred_timer is not None:
            self._deferred_timer.cancel()
            self._deferred_timer = None
        return batch

    def _commit(self, writes: list[tuple[BatchWrite | None, Any]]) -> list[Any]:
        with self._pool.connection() as connection:
            return commit(PgConnection(connection), writes)
