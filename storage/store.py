"""The storage contract the bot core uses. Reads are point lookups on their own
connection; every write goes through the group-commit writer."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

from storage.database import connect
from storage.migrations import migrate
from storage.recent import RecentConversations
from storage.turns import Loaded, StoredOutbox, TurnRecord, load, record_turns
from storage.writer import GroupCommitWriter

log = logging.getLogger(__name__)

SENT_CLEANUP_DELAY = 1.0  # seconds a delivered reply may stay in the outbox


class Store:
    """Reads and writes for the core. Every write that changes a participant's
    conversation, participant or address row must keep `_recent` coherent."""

    def __init__(self, reader: sqlite3.Connection, writer: GroupCommitWriter) -> None:
        self._reader = reader
        self.writer = writer
        self._recent = RecentConversations()

    @classmethod
    def open(cls, path: Path | str) -> Store:
        """Open (creating if need be) and migrate the database. Call from a running loop."""
        write_connection = connect(path)
        migrate(write_connection)
        writer = GroupCommitWriter(write_connection)
        writer.start()
        return cls(connect(path), writer)

    async def close(self) -> None:
        await self.writer.close()
        self._reader.close()

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
        stored = await self.writer.submit_item(record_turns, turn)
        if stored is not None:
            self._recent.committed(turn)
        return stored

    async def open_run(self, survey_id: str, *, now: float) -> int:
        """The open-to-anyone run of a survey (the one its keyword starts), created if need be."""

        def get_or_create(connection: sqlite3.Connection) -> int:
            row = connection.execute(
                "SELECT id FROM runs WHERE survey_id = ? AND audience = 'open' AND status = 'open'",
                (survey_id,),
            ).fetchone()
            if row:
                return row[0]
            return connection.execute(
                "INSERT INTO runs (survey_id, audience, status, created_at)"
                " VALUES (?, 'open', 'open', ?)",
                (survey_id, now),
            ).lastrowid

        return await self.writer.write(get_or_create)

    def unsent(self) -> list[StoredOutbox]:
        rows = self._reader.execute(
            "SELECT id, platform, conversation_id, body FROM outbox ORDER BY id"
        ).fetchall()
        return [StoredOutbox(i, p, c, b) for i, p, c, b in rows]

    def forget_sent(self, outbox_ids: list[int]) -> None:
        """Drop delivered replies from the outbox with the next commit. Not awaited, and
        not worth a commit of its own: a crash before it only means those replies are
        sent once more after the restart."""

        def delete(connection: sqlite3.Connection) -> None:
            connection.executemany("DELETE FROM outbox WHERE id = ?", [(i,) for i in outbox_ids])

        self.writer.submit_later(delete, within=SENT_CLEANUP_DELAY)
