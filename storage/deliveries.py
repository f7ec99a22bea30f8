"""What platforms report later of the messages they took: an SMS delivered, or not.

One row a message, by the platform's own id for it (never the person's number), with
the latest status: Twilio may post `sent` after `delivered`, so a status replaces only
one no further along. Rows are kept KEPT_SECONDS, long enough for a wave's figures.
"""

from __future__ import annotations

from storage.dialect import Connection
from storage.retention import DELETE_CHUNK

KEPT_SECONDS = 30 * 24 * 3600
# How far along each status Twilio reports is: a report never moves a message back.
PROGRESS = {"accepted": 0, "scheduled": 0, "queued": 1, "sending": 2, "sent": 3}
FINAL = 4  # delivered, undelivered, failed, read, canceled: and any other status


def record(
    connection: Connection,
    *,
    platform: str,
    message_id: str,
    status: str,
    error_code: int | None,
    now: float,
) -> None:
    connection.execute(
        "INSERT INTO deliveries (platform, message_id, status, progress, error_code, at)"
        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (platform, message_id) DO UPDATE SET"
        " status = excluded.status, progress = excluded.progress,"
        " error_code = excluded.error_code, at = excluded.at"
        " WHERE excluded.progress >= deliveries.progress",
        (platform, message_id, status, PROGRESS.get(status, FINAL), error_code, now),
    )


def counts(connection: Connection, *, platform: str, since: float) -> dict[str, int]:
    """How many messages reported since `since` are at each status."""
    rows = connection.execute(
        "SELECT status, count(*) FROM deliveries WHERE platform = ? AND at >= ? GROUP BY status",
        (platform, since),
    ).fetchall()
    return {status: count for status, count in rows}


def forget_before(connection: Connection, before: float) -> int:
    """Forget up to DELETE_CHUNK reports older than `before`; how many went."""
    return connection.execute(
        "DELETE FROM deliveries WHERE (platform, message_id) IN"
        " (SELECT platform, message_id FROM deliveries WHERE at < ? LIMIT ?)",
        (before, DELETE_CHUNK),
    ).rowcount


SCHEMA = """
    CREATE TABLE deliveries (
        platform TEXT NOT NULL,
        message_id TEXT NOT NULL,
        status TEXT NOT NULL,
        progress INTEGER NOT NULL,
        error_code INTEGER,
        at DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (platform, message_id)
    );
    CREATE INDEX deliveries_by_age ON deliveries (at);
"""
DESCRIPTION = "what platforms reported of the messages they took (SMS delivery reports)"
