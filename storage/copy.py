"""`civicbot storage copy --to postgresql://…`: a SQLite database moved to PostgreSQL.

The SQLite file must be at this release's schema, and PostgreSQL is migrated to it
(the versions are the same numbers on both: storage/postgres_schema.py); then every
table is copied with COPY in one PostgreSQL transaction, from one snapshot of the
SQLite file: the copy is whole or not there. The target must be empty, so that
nothing in it is overwritten; the SQLite file is only read. Ids keep their values
(replies' outbox ids are what platforms were told), and each sequence continues after
the largest one copied.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import psycopg

from storage.database import connect
from storage.migrations import applied_version as sqlite_version
from storage.migrations import pending
from storage.postgres import connected
from storage.postgres_schema import applied_version as postgres_version
from storage.postgres_schema import migrate as migrate_postgres
from storage.records import StorageUnusable

# Parents before the rows that point at them.
TABLES = (
    "runs",
    "participants",
    "addresses",
    "responses",
    "conversations",
    "answers",
    "processed_events",
    "outbox",
    "command_audit",
    "digests",
    "schedules",
    "kept_counts",
    "approvals",
    "run_schedules",
    "staff_accounts",
    "staff_sessions",
    "reviews",
    "answer_references",
    "reply_threads",
    "findings",
)
# Tables whose ids a sequence hands out on PostgreSQL.
SEQUENCED = ("runs", "responses", "outbox", "command_audit", "digests", "schedules")
SEQUENCED += ("approvals", "run_schedules")


class CopyRefused(StorageUnusable):
    """The copy was not made; the message says why. The target is as it was."""


@dataclass(frozen=True)
class Copied:
    version: int
    rows: dict[str, int]


def copy_to_postgres(database: Path, url: str, environ: Mapping[str, str]) -> Copied:
    if not database.is_file():
        raise CopyRefused(f"{database}: there is no SQLite database here to copy")
    source = connect(database)
    try:
        if pending(source):
            raise CopyRefused(f"{database} is not at this release's schema: civicbot migrate first")
        version = sqlite_version(source)
        with connected(url, environ, setting="--to") as target:
            migrate_postgres(target)
            if postgres_version(target) != version:
                raise CopyRefused(
                    f"the SQLite database is at version {version}, PostgreSQL at"
                    f" {postgres_version(target)}: run the same civicbot release on both"
                )
            return Copied(version, _copy_tables(source, target))
    finally:
        source.close()


def _copy_tables(source, target: psycopg.Connection) -> dict[str, int]:
    copied: dict[str, int] = {}
    source.execute("BEGIN")  # one snapshot of the file, whatever a running bot writes
    try:
        with target.transaction():
            for table in TABLES:
                if target.execute(f"SELECT EXISTS (SELECT 1 FROM {table})").fetchone()[0]:
                    raise CopyRefused(
                        f"the PostgreSQL database already holds {table}: copy into an empty one"
                    )
                columns = [row[1] for row in source.execute(f"PRAGMA table_info({table})")]
                names = ", ".join(columns)
                rows = source.execute(f"SELECT {names} FROM {table}")
                count = 0
                with target.cursor().copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
                        count += 1
                copied[table] = count
            _continue_sequences(source, target)
    finally:
        source.execute("COMMIT")
    return copied


def _continue_sequences(source, target: psycopg.Connection) -> None:
    """Each sequence after the largest id copied; the outbox's after the largest SQLite
    ever gave (an id a platform was told is never used again)."""
    for table in SEQUENCED:
        (largest,) = target.execute(f"SELECT coalesce(max(id), 0) FROM {table}").fetchone()
        if table == "outbox":
            row = source.execute("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'")
            largest = max(largest, (row.fetchone() or (0,))[0])
        if largest > 0:  # anonymous responses' random negative ids take no part
            target.execute("SELECT setval(pg_get_serial_sequence(%s, 'id'), %s)", (table, largest))
