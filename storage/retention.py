"""How long processed event ids are kept.

An event id is remembered so that a redelivery changes nothing. Platforms
redeliver within minutes to hours (Slack retries within the hour, the web chat
resends on reconnect, Matrix replays from civicbot's own checkpoint, which only
trails the newest stored event by a batch or by a message waiting for its key),
so thirty days is far beyond any of them, and the table stops growing forever.
"""

from __future__ import annotations

import sqlite3

EVENT_MEMORY_SECONDS = 30 * 24 * 3600
DELETE_CHUNK = 5_000  # rows per write, so the writer never stalls the bot for long


def forget_events_before(connection: sqlite3.Connection, before: float) -> int:
    """Forget up to DELETE_CHUNK event ids processed before `before`; how many went."""
    return connection.execute(
        "DELETE FROM processed_events WHERE event_id IN"
        " (SELECT event_id FROM processed_events WHERE processed_at < ? LIMIT ?)",
        (before, DELETE_CHUNK),
    ).rowcount
