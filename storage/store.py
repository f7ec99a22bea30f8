"""The SQLite backend of the storage contract (storage/contract.py, in storage/sql_store.py).

Point lookups (a participant's conversation, the outbox) read on the event loop's
own connection, from a cache of recent conversations; reads that scan a run get a
thread and a connection of their own; every write goes through the group-commit
writer, a process of its own.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from storage import runs
from storage.backup import back_up_before
from storage.database import compact, connect
from storage.migrations import applied_version, migrate, pending
from storage.pseudonyms import Pseudonyms, load_key
from storage.reads_together import ManyRead
from storage.recent import RecentConversations
from storage.records import Loaded, ReplyThread, TurnRecord
from storage.sql_store import SqlStore
from storage.turns import load, load_many
from storage.writer import GroupCommitWriter, settle

log = logging.getLogger(__name__)
T = TypeVar("T")

RUNS_READS = {runs.everyone_runs, runs.keyword_surveys_of}  # of the runs table alone
KEPT_WITHOUT_THREAD = 100_000
_UNREAD = object()


class Store(SqlStore):
    """The storage contract on SQLite."""

    def __init__(
        self,
        path: Path | str,
        reader: sqlite3.Connection,
        writer: GroupCommitWriter,
        pseudonyms: Pseudonyms,
    ) -> None:
        self._path = path
        self._reader = reader
        self.writer = writer
        self._pseudonyms = pseudonyms
        self._recent = RecentConversations()
        self._reports = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-reports")
        self._report_connection: sqlite3.Connection | None = None
        self._loads: dict[str, list[asyncio.Future[Loaded]]] = {}  # read at the next pass
        # What turns outside a survey read at every message, kept while true: runs change
        # only by this process's writes (one civicbot runs on the file), and a person's
        # reply thread opens only by a turn of theirs stored here.
        self._runs_read: dict[tuple[ManyRead, Any], Any] = {}
        self._without_thread: dict[str, float] = {}  # pid: none opened since then
        self._closed = False

    @classmethod
    def open(
        cls, path: Path, *, environ: Mapping[str, str], backup_before_migrating: bool = True
    ) -> Store:
        """Open (creating if need be) and migrate the database, backing it up first when
        it holds data and a migration is due. Call from a running loop."""
        migrations = connect(path)
        try:
            due = pending(migrations)
            version = applied_version(migrations)
            if due and version and backup_before_migrating:
                copy = back_up_before(path, version)
                log.info(
                    "backed up the database to %s before migrating it from %d to %d",
                    copy,
                    version,
                    due[-1].version,
                )
            migrate(migrations)
        finally:
            migrations.close()
        pseudonyms = Pseudonyms(load_key(path, environ))
        writer = GroupCommitWriter(path)
        writer.start()
        return cls(path, connect(path), writer, pseudonyms)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self.writer.close()
        self._reports.shutdown(wait=True)
        self._reader.close()

    # -- participants ---------------------------------------------------------------------

    async def load(self, pid: str) -> Loaded:
        """From the cache of recent conversations, else read with the other loads asked
        for in the same pass of the event loop (a wave's chunk, a burst of new people):
        one statement for all of them, on the loop, for it is an indexed join."""
        loaded = self._recent.get(pid)
        if loaded is not None:
            return loaded
        future = asyncio.get_running_loop().create_future()
        if not self._loads:
            asyncio.get_running_loop().call_soon(self._load_waiting)
        self._loads.setdefault(pid, []).append(future)
        return await future

    def _load_waiting(self) -> None:
        waiting, self._loads = self._loads, {}
        pids = list(waiting)
        try:
            if len(pids) == 1:  # the usual case: one statement without the batch's join
                found = {pids[0]: load(self._reader, pids[0])}
            else:
                found = load_many(self._reader, pids)
        except Exception as error:
            found = dict.fromkeys(waiting, error)
        for pid, futures in waiting.items():
            loaded = found[pid]
            if isinstance(loaded, Loaded) and loaded.known_participant:
                self._recent.put(pid, loaded)  # in the same step as the read: nothing between
            for future in futures:
                settle(future, loaded)

    # -- plumbing -------------------------------------------------------------------------

    async def lead(self) -> bool:
        return True  # one civicbot runs on a SQLite file: the running lock sees to it

    async def serve_surveys(self, surveys: dict[str, str], *, now: float) -> dict[str, str] | None:
        return None  # nobody else serves from this file

    async def _read(self, query: Callable[..., T], *arguments: Any, **named: Any) -> T:
        """A point read: on the event loop, for it is an index lookup in a local file."""
        return query(self._reader, *arguments, **named)

    async def _read_together(self, many: ManyRead, key: Any) -> Any:
        """On the event loop, alone: a local index lookup costs less than gathering."""
        if many not in RUNS_READS:
            return many(self._reader, [key])[key]
        found = self._runs_read.get((many, key), _UNREAD)
        if found is _UNREAD:
            found = self._runs_read[many, key] = many(self._reader, [key])[key]
        return found

    def _runs_changed(self) -> None:
        self._runs_read.clear()

    async def open_thread(self, pid: str, *, since: float) -> ReplyThread | None:
        known_since = self._without_thread.get(pid)
        if known_since is not None and since >= known_since:
            return None
        thread = await super().open_thread(pid, since=since)
        if thread is None:
            if len(self._without_thread) >= KEPT_WITHOUT_THREAD:
                self._without_thread.clear()
            self._without_thread[pid] = since
        return thread

    async def commit_turn(self, turn: TurnRecord) -> list[int] | None:
        try:
            return await super().commit_turn(turn)
        finally:  # stored, or perhaps stored
            if turn.opens_thread:
                self._without_thread.pop(turn.pid, None)

    async def _compact(self) -> None:
        await self._scan(compact)

    async def _scan(self, query: Callable[[sqlite3.Connection], T]) -> T:
        """A read that may scan a lot (digests, exports), off the event loop."""
        return await asyncio.get_running_loop().run_in_executor(
            self._reports, self._on_report_connection, query
        )

    def _on_report_connection(self, query: Callable[[sqlite3.Connection], T]) -> T:
        if self._report_connection is None:
            self._report_connection = connect(self._path)
        return query(self._report_connection)
