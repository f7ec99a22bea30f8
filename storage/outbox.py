"""The outbox's reads, and what its failed sends leave behind (queuing replies and
forgetting delivered ones ride with the turns, in storage/turns.py)."""

from __future__ import annotations

from collections.abc import Sequence

from storage.dialect import (
    CLAIM_SECONDS,
    CLAIMANT,
    CLAIMANT_GONE,
    DATABASE_NOW,
    Connection,
    is_postgres,
)
from storage.records import OutboxDepth, StoredOutbox, Undeliverable


def unsent(
    connection: Connection, *, queued_before: float | None, platforms: Sequence[str] | None
) -> list[StoredOutbox]:
    """On PostgreSQL, the rows are claimed for this worker: those it claimed before, and
    those whose claim by another ran out or whose worker has no session left (it
    stopped, or died). Only rows to `platforms`, if given."""
    to = ""
    if platforms is not None:
        to = f" AND platform IN ({', '.join('?' for _ in platforms) or 'NULL'})"
    if is_postgres(connection):
        rows = connection.execute(
            f"UPDATE outbox SET claimed_by = {CLAIMANT},"
            f" claimed_until = {DATABASE_NOW} + {CLAIM_SECONDS}"
            " WHERE id IN (SELECT id FROM outbox"
            f"  WHERE dead_at IS NULL AND created_at <= coalesce(?, created_at){to}"
            f"  AND (claimed_by = {CLAIMANT} OR coalesce(claimed_until, 0) < {DATABASE_NOW}"
            f"   OR {CLAIMANT_GONE})"
            "  FOR UPDATE SKIP LOCKED)"  # those another worker is claiming now are theirs
            " RETURNING id, platform, conversation_id, body, refused, created_at",
            (queued_before, *(platforms or ())),
        ).fetchall()
        rows.sort()
    else:
        rows = connection.execute(
            "SELECT id, platform, conversation_id, body, refused, created_at FROM outbox"
            f" WHERE dead_at IS NULL AND created_at <= coalesce(?, created_at){to} ORDER BY id",
            (queued_before, *(platforms or ())),
        ).fetchall()
    return [
        StoredOutbox(i, p, c, b, maybe_sent=not refused, queued_at=at)
        for i, p, c, b, refused, at in rows
    ]


def depth(connection: Connection, *, queued_before: float) -> OutboxDepth:
    waiting, waiting_long, oldest = connection.execute(
        "SELECT count(*), count(*) FILTER (WHERE created_at <= ?), min(created_at) FROM outbox"
        " WHERE dead_at IS NULL",
        (queued_before,),
    ).fetchone()
    return OutboxDepth(waiting, waiting_long, oldest)


def release_claims(connection: Connection) -> None:
    """This worker stops: its claims on replies end now, not when they run out."""
    connection.execute(
        f"UPDATE outbox SET claimed_by = NULL, claimed_until = NULL WHERE claimed_by = {CLAIMANT}"
    )


def note_failure(
    connection: Connection,
    *,
    outbox_id: int,
    refused: bool,
    failure: str,
    lasting: bool,
    budget: int,
    now: float,
) -> bool:
    """Count one more failed round of tries; True when the row is dead (a lasting refusal,
    or its budget of rounds is spent)."""
    row = connection.execute(
        "UPDATE outbox SET attempts = attempts + 1, refused = ?, failure = ?,"
        " dead_at = CASE WHEN ? OR attempts + 1 >= ? THEN ? END"
        " WHERE id = ? RETURNING dead_at",
        (int(refused), failure, lasting, budget, now, outbox_id),
    ).fetchone()
    return row is not None and row[0] is not None


def undeliverable(connection: Connection) -> list[Undeliverable]:
    """Dead replies by platform and reason, most first."""
    rows = connection.execute(
        "SELECT platform, failure, count(*), max(dead_at) FROM outbox"
        " WHERE dead_at IS NOT NULL GROUP BY platform, failure ORDER BY count(*) DESC"
    ).fetchall()
    return [Undeliverable(*row) for row in rows]
