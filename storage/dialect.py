"""Where SQLite and PostgreSQL differ in the SQL that the storage modules share.

The modules write their statements once, with sqlite3's `?` placeholders and SQL both
engines read (upserts with ON CONFLICT, RETURNING, FILTER); on PostgreSQL they get a
`PgConnection` (storage/postgres_connection.py), which takes the same calls. What
cannot be written once is here: the types of a batch's columns (PostgreSQL will not
guess them from parameters), how many parameters a statement may have, and where new
ids come from when one statement inserts many rows.
"""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:  # psycopg is imported only where PostgreSQL is used
    from storage.postgres_connection import PgConnection

Connection: TypeAlias = "sqlite3.Connection | PgConnection"

# The columns of the `batch` tables that storage/turns.py builds from parameters, by name.
BATCH_TYPES = {
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
    "reference": "text",
    "response_id": "bigint",
    "run_id": "bigint",
    "state": "text",
    "status": "text",
    "user_id": "text",
    "value": "text",
}
POSTGRES_MOST_PARAMETERS = 65_535


def is_postgres(connection: Connection) -> bool:
    return not isinstance(connection, sqlite3.Connection)


def batch_row(connection: Connection, columns: str) -> str:
    """One row of placeholders for a VALUES list of these columns."""
    names = [name.strip() for name in columns.split(",")]
    if is_postgres(connection):
        return f"({','.join(f'CAST(? AS {BATCH_TYPES[name]})' for name in names)})"
    return f"({','.join('?' * len(names))})"


def most_parameters(connection: Connection) -> int:
    if is_postgres(connection):
        return POSTGRES_MOST_PARAMETERS
    return connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)


# How long a worker has to send the replies it queued before another may take them (its
# own tries of a reply take well under a minute; the sweep comes after one).
CLAIM_SECONDS = 120
# The database's clock, not a worker's: workers' clocks may be minutes apart.
DATABASE_NOW = "extract(epoch FROM clock_timestamp())"
CLAIMANT = "current_setting('civicbot.worker')"  # this worker, as SQL names it


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
