"""Group commit: every write goes to one writer, and concurrent writes share a commit.

A write is a function of the connection, or an item for a batch function that
writes many items of one kind at once (`submit_item`, used for conversation
turns: one statement per kind of change instead of one per turn). Writes
submitted while a commit is in progress wait and then go together in the next
transaction. A write's future resolves only after the transaction holding it has
committed (with synchronous=FULL, fsynced), so callers may act on the result:
that is what makes "stored before sent" hold at thousands of turns per second.

The statements and the COMMIT run in a process of their own
(`storage.write_process`), so the event loop prepares the next batch while the
last one is written, on the other core. Writes therefore travel pickled: each
must be a module-level function or a `functools.partial` of one, and its result
and any exception it raises must pickle. If the writer process dies, the writes
it held fail (they may or may not have been committed) and a new one is started
for the next batch.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from storage import write_process
from storage.write_process import BatchWrite

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")
# (batch function or None for a plain write, the item or the write, its future)
_Pending = tuple[BatchWrite | None, Any, asyncio.Future[Any]]

MAX_BATCH = 2_000
# A backlog larger than this is committed in two halves. When every busy participant
# waits for the same commit, the event loop has nothing to do until it returns; in
# halves, the loop runs one half's next turns while the other half is committed.
SPLIT_ABOVE = 200


class WriterClosed(RuntimeError):
    """Raised for writes submitted after `close()`."""


class WriterDied(RuntimeError):
    """The writer process ended while it held these writes: they may or may not be stored."""


class GroupCommitWriter:
    def __init__(self, path: Path | str, *, max_batch: int = MAX_BATCH) -> None:
        self._path = path
        self._max_batch = max_batch
        self._pending: list[_Pending] = []
        self._deferred: list[_Pending] = []
        self._deferred_timer: asyncio.TimerHandle | None = None
        self._wakeup = asyncio.Event()
        self._process: asyncio.subprocess.Process | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.commits = 0  # for benchmarks: how many transactions carried the writes

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="group-commit")

    @property
    def pid(self) -> int | None:
        """The writer process's id (for benchmarks that count its CPU time)."""
        return None if self._process is None else self._process.pid

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

    async def _run(self) -> None:
        try:
            await self._started_process()
            while True:
                await self._wakeup.wait()
                self._wakeup.clear()
                while self._pending or self._deferred:
                    batch = self._take_batch()
                    outcomes = await self._commit(batch)
                    for (_, _, future), outcome in zip(batch, outcomes, strict=True):
                        if future.done():
                            continue
                        if isinstance(outcome, BaseException):
                            future.set_exception(outcome)
                        else:
                            future.set_result(outcome)
                if self._closing:
                    return
        finally:
            await self._stop_process()

    async def _commit(self, batch: list[_Pending]) -> list[Any]:
        """Have the writer process commit the batch; one outcome per write."""
        writes = [(batch_write, work) for batch_write, work, _ in batch]
        try:
            message = write_process.encode(writes)
        except Exception as error:  # one write cannot travel: try each alone
            if len(batch) == 1:
                return [TypeError(f"a write the writer process cannot receive: {error}")]
            return [outcome for pending in batch for outcome in await self._commit([pending])]
        try:
            process = await self._started_process()
            process.stdin.write(message)
            await process.stdin.drain()
            header = await process.stdout.readexactly(write_process.HEADER_BYTES)
            reply = await process.stdout.readexactly(int.from_bytes(header, "big"))
        except (OSError, asyncio.IncompleteReadError) as error:
            log.error("the database writer process stopped (%s); starting a new one", error)
            await self._stop_process()
            return [WriterDied(f"the database writer stopped: {error}")] * len(batch)
        self.commits += 1
        return write_process.decode(reply)

    async def _started_process(self) -> asyncio.subprocess.Process:
        if self._process is not None and self._process.returncode is not None:
            log.error(
                "the database writer process ended (%s); starting a new one",
                self._process.returncode,
            )
            self._process = None
        if self._process is None:
            # the child imports the functions it is sent from where this process does
            environment = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
            self._process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "storage.write_process",
                str(self._path),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                env=environment,
            )
        return self._process

    async def _stop_process(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.stdin is not None and not process.stdin.is_closing():
            process.stdin.close()  # the end of its input ends it
        await process.wait()

    def _take_batch(self) -> list[_Pending]:
        size = len(self._pending)
        if size > SPLIT_ABOVE:
            size = min(self._max_batch, (size + 1) // 2)
        batch = self._deferred + self._pending[:size]
        del self._pending[:size]
        self._deferred = []
        if self._deferred_timer is not None:
            self._deferred_timer.cancel()
            self._deferred_timer = None
        return batch


def _log_failure(future: asyncio.Future[Any]) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.error("a deferred write failed: %s", future.exception())


def nothing(connection: sqlite3.Connection) -> None:
    """A write that changes nothing: its commit says that everything before it committed."""
