"""The storage contract the bot core uses. Reads are point lookups on their own
connection; every write goes through the group-commit writer."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import TypeVar

from storage.database import connect
from storage.migrations import migrate
from storage.privacy import Erased, erase_participant
from storage.recent import RecentConversations
from storage.retention import DELETE_CHUNK, EVENT_MEMORY_SECONDS, forget_events_before
from storage.runs import run_for_everyone
from storage.turns import Loaded, StoredOutbox, TurnRecord, forget_sent, load, record_turns
from storage.writer import GroupCommitWriter, nothing

log = logging.getLogger(__name__)
T = TypeVar("T")

# Seconds a delivered reply may stay in the outbox: a crash within them sends it again
# on platforms without idempotency keys (Slack). When the bot is busy, the removal
# rides along with the next commit long before; when it is quiet, it costs at most
# five small commits a second.
SENT_CLEANUP_DELAY = 0.2


class Store:
    """Reads and writes for the core. Every write that changes a participant's
    conversation, participant or address row must keep `_recent` coherent."""

    def __init__(
        self, path: Path | str, reader: sqlite3.Connection, writer: GroupCommitWriter
    ) -> None:
        self._path = path
        self._reader = reader
        self.writer = writer
        self._recent = RecentConversations()
        # reads that scan a run get a thread and a connection of their own
        self._reports = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-reports")
        self._report_connection: sqlite3.Connection | None = None

    @classmethod
    def open(cls, path: Path | str) -> Store:
        """Open (creating if need be) and migrate the database. Call from a running loop."""
        migrations = connect(path)
        try:
            migrate(migrations)
        finally:
            migrations.close()
        writer = GroupCommitWriter(path)
        writer.start()
        return cls(path, connect(path), writer)

    async def close(self) -> None:
        await self.writer.close()
        self._reports.shutdown(wait=True)
        self._reader.close()

    async def erase_participant(self, pid: str, **details: object) -> Erased | None:
        """Erase everything linked to a participant (see storage.privacy)."""
        erased = await self.writer.write(partial(erase_participant, pid=pid, **details))
        self._recent.forget(pid)
        return erased

    async def read(self, query: Callable[[sqlite3.Connection], T]) -> T:
        """Run a read that may scan a lot (digests, exports) off the event loop."""
        return await asyncio.get_running_loop().run_in_executor(
            self._reports, self._on_report_connection, query
        )

    async def write(self, change: Callable[[sqlite3.Connection], T]) -> T:
        """A write that touches no conversation (runs, audit, digests): see `_recent`."""
        return await self.writer.write(change)

    def _on_report_connection(self, query: Callable[[sqlite3.Connection], T]) -> T:
        if self._report_connection is None:
            self._report_connection = connect(self._path)
        return query(self._report_connection)

    def load(self, pid: str) -> Loaded:
        loaded = self._recent.get(pid)
        if loaded is None:
            loaded = load(self._reader, pid)
            if loaded.known_participant:
                self._recent.put(pid, loaded)
        return loaded

    async def commit_turn(self, turn: TurnRecord) -> list[int] | None:
        """Store a whole turn; returns its replies' outbox ids, or None if the event was a
        redelivery."""
        try:
            stored = await self.writer.submit_item(record_turns, turn)
        except Exception:  # perhaps stored after all: read it back next time
            self._recent.forget(turn.pid)
            raise
        if stored is None:  # committed before, perhaps by a writer that outlived its bot:
            self._recent.forget(turn.pid)  # then the cached conversation may predate it
            return None
        outbox_ids, turn.response_id = stored
        self._recent.committed(turn)
        return outbox_ids

    async def open_run(self, survey_id: str, *, now: float) -> int | None:
        """The survey's run open to anyone (the one its keyword starts). The first time a
        keyword is used one is created; None once a coordinator has closed it."""
        return await self.writer.write(partial(run_for_everyone, survey_id=survey_id, now=now))

    def unsent(self, *, queued_before: float | None = None) -> list[StoredOutbox]:
        """Replies not yet sent, oldest first; only those queued before a time if given."""
        rows = self._reader.execute(
            "SELECT id, platform, conversation_id, body FROM outbox"
            " WHERE created_at <= coalesce(?, created_at) ORDER BY id",
            (queued_before,),
        ).fetchall()
        return [StoredOutbox(i, p, c, b) for i, p, c, b in rows]

    async def forget_old_events(self, now: float) -> int:
        """Forget the event ids processed more than EVENT_MEMORY_SECONDS ago, a chunk
        per commit; how many went."""
        forgotten = 0
        before = now - EVENT_MEMORY_SECONDS
        while True:
            gone = await self.writer.write(partial(forget_events_before, before=before))
            forgotten += gone
            if gone < DELETE_CHUNK:
                return forgotten

    def forget_sent(self, outbox_ids: list[int]) -> None:
        """Drop delivered replies from the outbox with the next commit. Not awaited, and
        not worth a commit of its own: a crash before it only means those replies are
        sent once more after the restart."""
        self.writer.submit_later(
            partial(forget_sent, outbox_ids=outbox_ids), within=SENT_CLEANUP_DELAY
        )

    async def flushed(self) -> None:
        """Wait until every write submitted so far has committed."""
        await self.writer.write(nothing)
