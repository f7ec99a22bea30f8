"""Numbered, described schema steps, applied in order when the database opens."""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass

import sqlite_utils

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    description: str
    apply: Callable[[sqlite_utils.Database], None]


def _initial_schema(db: sqlite_utils.Database) -> None:
    db["participants"].create(
        {"pid": str, "active_run": int, "created_at": float}, pk="pid", not_null={"created_at"}
    )
    # The only place that says how to reach a person; erasure and retention clear it.
    db["addresses"].create(
        {"pid": str, "platform": str, "user_id": str, "conversation_id": str, "updated_at": float},
        pk="pid",
        foreign_keys=[("pid", "participants", "pid")],
        not_null={"platform", "user_id", "conversation_id"},
    )
    db["runs"].create(
        {
            "id": int,
            "survey_id": str,
            "audience": str,
            "status": str,
            "staff_channel": str,
            "created_at": float,
            "closed_at": float,
        },
        pk="id",
        not_null={"survey_id", "audience", "status", "created_at"},
    )
    db["runs"].create_index(["survey_id", "status"])
    db["responses"].create(
        {
            "id": int,
            "run_id": int,
            "pid": str,  # NULL in anonymous surveys
            "status": str,
            "started_at": float,
            "updated_at": float,
            "completed_at": float,
        },
        pk="id",
        foreign_keys=[("run_id", "runs", "id")],
        not_null={"run_id", "status"},
    )
    db["responses"].create_index(["run_id", "status"])
    db["conversations"].create(
        {"pid": str, "run_id": int, "response_id": int, "state": str, "updated_at": float},
        pk=("pid", "run_id"),
        foreign_keys=[("pid", "participants", "pid"), ("run_id", "runs", "id")],
        not_null={"state"},
    )
    db["answers"].create(
        {
            "response_id": int,
            "question_id": str,
            "value": str,  # JSON; null when the question was skipped
            "given_by": str,  # participant | intermediary
            "answered_at": float,
        },
        pk=("response_id", "question_id"),
        foreign_keys=[("response_id", "responses", "id")],
        not_null={"given_by"},
    )
    db.execute(
        "CREATE TABLE processed_events (event_id TEXT PRIMARY KEY, processed_at REAL NOT NULL)"
        " WITHOUT ROWID"
    )
    db.execute(
        "CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, platform TEXT NOT NULL,"
        " conversation_id TEXT NOT NULL, body TEXT NOT NULL, created_at REAL NOT NULL)"
    )


MIGRATIONS = [
    Migration(
        1, "participants, addresses, runs, responses, answers, events, outbox", _initial_schema
    ),
]


def migrate(connection: sqlite3.Connection, *, now: Callable[[], float] = time.time) -> int:
    """Apply every migration newer than the database; returns the resulting version."""
    db = sqlite_utils.Database(connection)
    if "schema_migrations" not in db.table_names():
        db["schema_migrations"].create(
            {"version": int, "description": str, "applied_at": float}, pk="version"
        )
    applied = {row["version"] for row in db["schema_migrations"].rows}
    for migration in MIGRATIONS:
        if migration.version in applied:
            continue
        with db.atomic():
            migration.apply(db)
            db["schema_migrations"].insert(
                {
                    "version": migration.version,
                    "description": migration.description,
                    "applied_at": now(),
                }
            )
        log.info("applied migration %d: %s", migration.version, migration.description)
    return max((m.version for m in MIGRATIONS), default=0)
