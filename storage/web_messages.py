"""The web chat's transcripts in the database, for several workers on PostgreSQL.

A page's long poll may land on another worker than the one that sent its reply, so
what each conversation was sent is a row here, numbered per conversation, and a
NOTIFY on `civicbot_web` (delivered at commit) wakes the polls waiting on every
worker. One process on SQLite keeps transcripts in memory instead (adapters/web.py).

A reply is kept once however often it is sent (its outbox id), and only for a day:
the page shows a conversation's last TRANSCRIPT_LENGTH after a reload, and the rows
may quote what the person said (read-backs, `my data`), so erasure deletes them too.
"""

from __future__ import annotations

from storage.dialect import Connection, is_postgres
from storage.retention import DELETE_CHUNK

CHANNEL = "civicbot_web"  # PostgreSQL's notification channel; the payload is the conversation
WEB_LOCKS = 2  # the first key of the advisory locks on web conversations (1: participants)
KEPT_SECONDS = 24 * 3600


def append(
    connection: Connection, *, conversation_id: str, outbox_id: int | None, entry: str, now: float
) -> int | None:
    """Add a message to the conversation's transcript; its number there, or None if this
    outbox row is there already (sent again after a crash or by a second worker)."""
    if is_postgres(connection):  # two workers numbering one conversation take turns
        connection.execute(
            f"SELECT pg_advisory_xact_lock({WEB_LOCKS}, hashtext(?))", (conversation_id,)
        )
    row = connection.execute(
        "INSERT INTO web_messages (conversation_id, seq, outbox_id, entry, at)"
        " SELECT ?, coalesce(max(seq), 0) + 1, ?, ?, ? FROM web_messages"
        " WHERE conversation_id = ? ON CONFLICT (outbox_id) DO NOTHING RETURNING seq",
        (conversation_id, outbox_id, entry, now, conversation_id),
    ).fetchone()
    if row is not None and is_postgres(connection):
        connection.execute("SELECT pg_notify(?, ?)", (CHANNEL, conversation_id))
    return None if row is None else row[0]


def since(
    connection: Connection, *, conversation_id: str, after: int, most: int
) -> tuple[list[tuple[int, str]], int]:
    """The conversation's messages numbered above `after` with their numbers, the last
    `most` of them, oldest first; and the number of its newest message (0 if none)."""
    rows = connection.execute(
        "SELECT seq, entry FROM web_messages WHERE conversation_id = ? AND seq > ?"
        " ORDER BY seq DESC LIMIT ?",
        (conversation_id, after, most),
    ).fetchall()
    if rows:
        return [(seq, entry) for seq, entry in reversed(rows)], rows[0][0]
    newest = connection.execute(
        "SELECT coalesce(max(seq), 0) FROM web_messages WHERE conversation_id = ?",
        (conversation_id,),
    ).fetchone()[0]
    return [], newest


def forget_before(connection: Connection, before: float) -> int:
    """Forget up to DELETE_CHUNK messages sent before `before`; how many went."""
    return connection.execute(
        "DELETE FROM web_messages WHERE (conversation_id, seq) IN"
        " (SELECT conversation_id, seq FROM web_messages WHERE at < ? LIMIT ?)",
        (before, DELETE_CHUNK),
    ).rowcount


SCHEMA = """
    CREATE TABLE web_messages (
        conversation_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        outbox_id BIGINT UNIQUE,  -- a reply sent twice is kept once
        entry TEXT NOT NULL,  -- JSON, as the page reads it
        at DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (conversation_id, seq)
    );
    CREATE INDEX web_messages_by_age ON web_messages (at);
"""
DESCRIPTION = "the web chat's transcripts, shared by the workers of one database"
