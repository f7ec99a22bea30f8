"""Where SQLite and PostgreSQL differ in the SQL that the storage modules share.

The modules write their statements once, with sqlite3's `?` placeholders and SQL both
engines read (upserts with ON CONFLICT, RETURNING, FILTER); on PostgreSQL they get a
`PgConnection` (storage/postgres_connection.py), which takes the same calls. What
cannot be written once is here: how a batch of rows reaches a statement (SQLite: a
VALUES list; PostgreSQL: one JSON parameter read back as typed columns, for it will
not guess types from parameters),
where new ids come from when one statement inserts many rows, and who claims a reply.
"""

from __future__ import annotations

import json
import sqlite3
from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:  # psycopg is imported only where PostgreSQL is used
    from storage.postgres_connection import PgConnection

Connection: TypeAlias = "sqlite3.Connection | PgConnection"

# The columns of the `batch` tables that storage/turns.py builds from parameters, by name.
BATCH_TYPES = {
    "assisted_by": "text",
    "at": "double precision",
    "body": "text",
    "channel": "text",
    "conversation_id": "text",
    "event_id": "text",
    "finished": "integer",
    "given_by": "text",
    "id": "bigint",
    "language": "text",
    "may_reply": "integer",
    "pid": "text",
    "platform": "text",
    "question_id": "text",
    "reached_by": "text",
    "reference": "text",
    "response_id": "bigint",
    "run_id": "bigint",
    "state": "text",
    "status": "text",
    "survey_id": "text",
    "user_id": "text",
    "value": "text",
}


def is_postgres(connection: Connection) -> bool:
    return not isinstance(connection, sqlite3.Connection)


def as_records(columns: str) -> str:
    """PostgreSQL's batch: the rows as one JSON parameter (`records`), read back as typed
    columns. However many rows there are, the statement's text stays the same and is
    prepared once; and one string is the cheapest parameter psycopg sends (an array is
    dumped element by element, in Python)."""
    names = [name.strip() for name in columns.split(",")]
    typed = ", ".join(f"{name} {BATCH_TYPES[name]}" for name in names)
    return f"json_to_recordset(CAST(? AS json)) AS batch({typed})"


def records(columns: str, rows: list[tuple]) -> str:
    names = [name.strip() for name in columns.split(",")]
    return json.dumps([dict(zip(names, row, strict=True)) for row in rows], ensure_ascii=False)


# How long a worker has to send the replies it queued before another may take them (its
# own tries of a reply take well under a minute; the sweep comes after one).
CLAIM_SECONDS = 120
# The database's clock, not a worker's: workers' clocks may be minutes apart.
DATABASE_NOW = "extract(epoch FROM clock_timestamp())"
CLAIMANT = "current_setting('application_name')"  # this worker, as SQL names it
# A claim's worker has no session left: it died (its replies need not wait out the claim).
CLAIMANT_GONE = (
    "NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE application_name = outbox.claimed_by)"
)


def claimed(connection: Connection) -> tuple[str, str]:
    """(the outbox's claim columns, their values) for an INSERT of replies this worker
    sends; nothing on SQLite, where one worker sends everything."""
    if is_postgres(connection):
        return ", claimed_by, claimed_until", f", {CLAIMANT}, {DATABASE_NOW} + {CLAIM_SECONDS}"
    return "", ""


def next_ids(connection: Connection, table: str, count: int) -> list[int]:
    """Ids for `count` new rows of `table` (responses or outbox), handed out before the
    rows are inserted so that one statement can insert them all. On SQLite the group-
    commit writer holds the only write transaction, so they follow the largest one yet
    (the outbox's AUTOINCREMENT sequence: an id is never used again, even after its row
    was sent and deleted). On PostgreSQL workers write at once: the ids come from the
    table's sequence, which never hands one out twice."""
    if count == 0:
        return []
    if is_postgres(connection):
        rows = connection.execute(
            f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, ?)",
            (count,),
        )
        return [next_id for (next_id,) in rows]
    if table == "outbox":
        row = connection.execute("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'").fetchone()
        last = row[0] if row else 0
    else:
        (last,) = connection.execute(f"SELECT coalesce(max(id), 0) FROM {table}").fetchone()
    return list(range(last + 1, last + 1 + count))
