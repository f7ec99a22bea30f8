"""Numbered, described schema steps, applied in order when the database opens."""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from storage import assisted, deliveries, profiles, schema, tallies, waves, web_messages
from storage.records import StorageUnusable

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    description: str
    apply: Callable[[Any], None]  # of the backend's connection


class DatabaseTooNew(StorageUnusable):
    """The database was migrated by a newer civicbot: this one would misread it."""


def refuse_newer(version: int, migrations: Sequence[Migration]) -> None:
    known = max((m.version for m in migrations), default=0)
    if version > known:
        raise DatabaseTooNew(
            f"the database is at schema version {version}, newer than this civicbot knows"
            f" ({known}): run the civicbot that migrated it, or restore a backup taken"
            " before that upgrade"
        )


MIGRATIONS = [
    Migration(
        1,
        "participants, addresses, runs, responses, answers, events, outbox",
        schema.initial_schema,
    ),
    Migration(2, "command audit and digest watermarks", schema.coordination),
    Migration(3, "digest schedules", schema.schedules),
    Migration(4, "processed events by age, for forgetting old ones", schema.event_age),
    Migration(
        5, "whether each conversation has ended, beside its state", schema.finished_conversations
    ),
    Migration(6, "opt-outs, and reminders counted per conversation", schema.lifecycle),
    Migration(7, "retention: purged runs and the counts they keep", schema.retention),
    Migration(8, "reminder policies per run", schema.reminder_policies),
    Migration(9, "the command audit by run", schema.audit_by_run),
    Migration(10, "commands waiting for a second coordinator's approval", schema.approvals),
    Migration(
        11,
        "scheduled and recurring starts, and runs that close by themselves",
        schema.run_schedules,
    ),
    Migration(12, "staff accounts and their sessions on the web staff page", schema.staff_accounts),
    Migration(
        13,
        "responses' language and channel, held answers' decisions, schedules' makers",
        schema.provenance_and_review,
    ),
    Migration(
        14, "consent to replies, and the references digests give their quotes", schema.replies
    ),
    Migration(
        15, "threads that staff replies open, for what people write back", schema.reply_threads
    ),
    Migration(
        16, "findings numbered per run, what staff did about them, follow-ups", schema.findings
    ),
    Migration(17, "replies' send attempts, refusals and dead letters", schema.delivery_attempts),
    Migration(18, "workers: each participant's stored turns, who sends each reply", schema.workers),
    Migration(19, "the surveys each running worker serves", schema.served_surveys),
    Migration(20, schema.FOLLOW_UPS, schema.follow_ups),
    Migration(21, tallies.DESCRIPTION, tallies.tallies),
    Migration(22, web_messages.DESCRIPTION, partial(schema.run_script, script=web_messages.SCHEMA)),
    Migration(23, deliveries.DESCRIPTION, partial(schema.run_script, script=deliveries.SCHEMA)),
    Migration(24, assisted.DESCRIPTION, partial(schema.run_script, script=assisted.SCHEMA)),
    Migration(25, waves.DESCRIPTION, partial(schema.run_script, script=waves.SCHEMA)),
    Migration(26, profiles.DESCRIPTION, partial(schema.run_script, script=profiles.SCHEMA)),
    Migration(
        27, waves.QUEUE_ORDER_DESCRIPTION, partial(schema.run_script, script=waves.QUEUE_ORDER)
    ),
]


def _applied(connection: sqlite3.Connection) -> set[int]:
    """The versions of the migrations the database has had; none for a new, empty one."""
    ledger = connection.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
    ).fetchone()
    if ledger is None:
        return set()
    return {version for (version,) in connection.execute("SELECT version FROM schema_migrations")}


def applied_version(connection: sqlite3.Connection) -> int:
    """The newest migration the database has had; 0 for a new, empty one."""
    return max(_applied(connection), default=0)


def pending(connection: sqlite3.Connection) -> list[Migration]:
    """The migrations the database has not had yet, in the order they would be applied."""
    applied = _applied(connection)
    return [m for m in MIGRATIONS if m.version not in applied]


def migrate(connection: sqlite3.Connection, *, now: Callable[[], float] = time.time) -> int:
    """Apply every migration newer than the database; returns the resulting version."""
    connection.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations"
        " (version INTEGER PRIMARY KEY, description TEXT, applied_at FLOAT)"
    )
    refuse_newer(applied_version(connection), MIGRATIONS)
    for migration in pending(connection):
        # Each step whole or not at all (the connection is in autocommit mode).
        connection.execute("BEGIN IMMEDIATE")
        try:
            migration.apply(connection)
            connection.execute(
                "INSERT INTO schema_migrations (version, description, applied_at) VALUES (?, ?, ?)",
                (migration.version, migration.description, now()),
            )
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")
        log.info("applied migration %d: %s", migration.version, migration.description)
    if connection.execute("PRAGMA auto_vacuum").fetchone()[0] == 0:
        # A file made before civicbot compacted: rewritten once so that deleted data can
        # leave it (this takes a while on a large database, and only happens once).
        log.info("converting the database to incremental vacuum, once")
        connection.execute("PRAGMA auto_vacuum=INCREMENTAL")
        connection.execute("VACUUM")
    return max((m.version for m in MIGRATIONS), default=0)
