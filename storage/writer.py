"""Group commit: every write goes to one writer, and concurrent writes share a commit.

A write is a function of the connection, or an item for a batch function that
writes many items of one kind at once (`submit_item`, used for conversation
turns: one statement per kind of change instead of one per turn). A write's
future resolves only after the transaction holding it has committed (with
synchronous=FULL, fsynced), so callers may act on the result: that is what makes
"stored before sent" hold at thousands of turns per second.

The statements and the COMMIT run in a process of their own
(`storage.write_process`), on the other core. Writes are sent to it as soon as
they are submitted (those of one event-loop iteration in one message), without
waiting for the commit in progress; the writer process puts everything that
arrived during a commit into the next one. So the writer never waits for the
bot to read a result and send more, and nothing waits in the bot for a commit
to end. Writes therefore travel pickled: each must be a module-level function or
a `functools.partial` of one, and its result and any exception it raises must
pickle. If the writer process dies, the writes it held fail (they may or may not
have been committed) and a new one is started for the next write.
"""

from __future__ import annotations

import asyncio
import logging
import os
import pickle
import sqlite3
import sys
from collections import deque
from collections.abc import Callable, Coroutine, Mapping
from pathlib import Path
from typing import Any, TypeVar

from storage import write_process
from storage.records import StorageClosed
from storage.write_process import BatchWrite

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")
# (batch function or None for a plain write, the item or the write, its future)
_Pending = tuple[BatchWrite | None, Any, asyncio.Future[Any]]

# Writes are sent at the end of each event-loop iteration, or as soon as this many are
# waiting: when one commit returns a thousand turns at once, their next turns all come
# in one iteration, and the writer process can commit the first of them meanwhile.
SEND_EVERY = 64


class WriterClosed(StorageClosed):
    """Raised for writes submitted after `close()`."""


class WriterDied(RuntimeError):
    """The writer process ended while it held these writes: they may or may not be stored."""


class _Child:
    """A writer process, and the futures of the writes it holds, in the order it got them."""

    def __init__(
        self,
        process: asyncio.subprocess.Process,
        read_results: Callable[[_Child], Coroutine[Any, Any, None]],
    ) -> None:
        self.process = process
        self.held: deque[asyncio.Future[Any]] = deque()
        self.results = asyncio.get_running_loop().create_task(
            read_results(self), name="group-commit-results"
        )

    @property
    def usable(self) -> bool:
        return self.process.returncode is None and not self.results.done()


class GroupCommitWriter:
    def __init__(self, path: Path | str, *, environ: Mapping[str, str] | None = None) -> None:
        self._path = path  # a SQLite file, or a PostgreSQL URL
        self._environ = dict(environ or {})  # for the writer process: what it connects with
        self._pending: list[_Pending] = []
        self._deferred: list[_Pending] = []
        self._deferred_timer: asyncio.TimerHandle | None = None
        self._wakeup = asyncio.Event()
        self._child: _Child | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.commits = 0  # for benchmarks: how many transactions carried the writes
        self.restarts = 0  # writer processes that ended and were replaced

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="group-commit")

    @property
    def pid(self) -> int | None:
        """The writer process's id (for benchmarks that count its CPU time)."""
        return None if self._child is None else self._child.process.pid

    @property
    def holding(self) -> int:
        """Writes handed to the writer process and not answered yet."""
        return 0 if self._child is None else len(self._child.held)

    def submit(self, write: Callable[[sqlite3.Connection], T]) -> asyncio.Future[T]:
        """Queue `write`; the future holds its result once its transaction has committed."""
        return self._queue(None, write)

    def submit_item(
        self, batch: Callable[[sqlite3.Connection, list[Any]], list[R]], item: Any
    ) -> asyncio.Future[R]:
        """Queue `item` for `batch`, which writes all queued items of its kind together."""
        return self._queue(batch, item)

    def submit_later(
        self, write: Callable[[sqlite3.Connection], Any], *, within: float
    ) -> asyncio.Future[Any]:
        """Queue a write that rides along with the next one, or is sent on its own after
        `within` seconds, rather than costing a commit now. Nobody need wait for it;
        failures are logged."""
        if self._closing:
            raise WriterClosed("the database writer is closed")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        future.add_done_callback(_log_failure)
        self._deferred.append((None, write, future))
        if self._deferred_timer is None:
            self._deferred_timer = asyncio.get_running_loop().call_later(within, self._wakeup.set)
        return future

    def _queue(self, batch: BatchWrite | None, work: Any) -> asyncio.Future[Any]:
        if self._closing:
            raise WriterClosed("the database writer is closed")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending.append((batch, work, future))
        if len(self._pending) >= SEND_EVERY and self._child is not None and self._child.usable:
            self._hand_over(self._child, self._take_all())
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
            await self._usable_child()
            while True:
                await self._wakeup.wait()
                self._wakeup.clear()
                if self._pending or self._deferred:
                    await self._send(self._take_all())
                if self._closing and not self._pending:
                    return
        finally:
            await self._stop_child()

    def _take_all(self) -> list[_Pending]:
        batch = self._deferred + self._pending
        self._pending = []
        self._deferred = []
        if self._deferred_timer is not None:
            self._deferred_timer.cancel()
            self._deferred_timer = None
        return batch

    async def _send(self, batch: list[_Pending]) -> None:
        child = await self._usable_child()
        self._hand_over(child, batch)
        try:
            await child.process.stdin.drain()
        except OSError as error:  # its results task fails what it held
            log.error("the database writer process stopped taking writes (%s)", error)

    def _hand_over(self, child: _Child, batch: list[_Pending]) -> None:
        """Give the writes to the writer process; their futures resolve as it commits."""
        try:
            message = _message(batch)
        except Exception:  # one write cannot travel: it fails, the others go
            batch = _receivable(batch)
            if not batch:
                return
            message = _message(batch)
        child.held.extend(future for _, _, future in batch)
        child.process.stdin.write(message)

    async def _results(self, child: _Child) -> None:
        """Resolve the futures of the child's writes as its commits come back."""
        stdout = child.process.stdout
        try:
            while True:
                header = await stdout.readexactly(write_process.HEADER_BYTES)
                outcomes = write_process.decode(
                    await stdout.readexactly(int.from_bytes(header, "big"))
                )
                self.commits += 1
                for outcome in outcomes:
                    settle(child.held.popleft(), outcome)
        except (OSError, asyncio.IncompleteReadError) as error:
            if not child.held:
                return  # it ended because its input did
            log.error(
                "the database writer process stopped (%s) holding %d writes", error, len(child.held)
            )
            _fail_held(child, WriterDied(f"the database writer stopped: {error}"))
        except Exception as error:  # results that cannot be read: the stream is lost too
            log.exception("a result from the database writer process could not be read")
            if child.process.returncode is None:
                child.process.kill()  # the next write starts a new one
            _fail_held(child, WriterDied(f"a result of the writer was unreadable: {error}"))

    async def _usable_child(self) -> _Child:
        if self._child is not None and not self._child.usable:
            log.error(
                "the database writer process ended (%s); starting a new one",
                self._child.process.returncode,
            )
            self._child = None
            self.restarts += 1
        if self._child is None:
            # the child imports the functions it is sent from where this process does
            environment = {
                **os.environ,
                **self._environ,
                "PYTHONPATH": os.pathsep.join(sys.path),
            }
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "storage.write_process",
                str(self._path),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                env=environment,
            )
            self._child = _Child(process, self._results)
        return self._child

    async def _stop_child(self) -> None:
        """Close its input (which ends it once it has committed all it holds) and wait."""
        child, self._child = self._child, None
        if child is None:
            return
        if not child.process.stdin.is_closing():
            child.process.stdin.close()
        await child.results
        await child.process.wait()


def _message(batch: list[_Pending]) -> bytes:
    return write_process.encode_writes([(write, work) for write, work, _ in batch])


def _receivable(batch: list[_Pending]) -> list[_Pending]:
    """The writes that can be pickled; the others fail now, each with its reason."""
    kept = []
    for batch_write, work, future in batch:
        try:
            pickle.dumps((batch_write, work), protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as error:
            future.set_exception(TypeError(f"a write the writer process cannot receive: {error}"))
        else:
            kept.append((batch_write, work, future))
    return kept


def _fail_held(child: _Child, error: WriterDied) -> None:
    while child.held:
        settle(child.held.popleft(), error)


def settle(future: asyncio.Future[Any], outcome: Any) -> None:
    if future.done():
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


def _log_failure(future: asyncio.Future[Any]) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.error("a deferred write failed: %s", future.exception())
