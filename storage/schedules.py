"""What waits for a time: digest schedules, scheduled and recurring starts, runs that
close by themselves, and commands held for a second coordinator's approval."""

from __future__ import annotations

import sqlite3
from typing import Any

from storage.records import Approval, RunScheduleRow, ScheduleRow


def add_schedule(
    connection: sqlite3.Connection,
    *,
    run_id: int,
    cron: str,
    timezone: str,
    now: float,
    made_by: str | None = None,
    made_in: str | None = None,
) -> ScheduleRow:
    schedule_id = connection.execute(
        "INSERT INTO schedules (run_id, cron, timezone, created_at, made_by, made_in)"
        " VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
        (run_id, cron, timezone, now, made_by, made_in),
    ).fetchone()[0]
    return ScheduleRow(schedule_id, run_id, cron, timezone, now, None, made_by, made_in)


def list_schedules(connection: sqlite3.Connection, run_id: int | None = None) -> list[ScheduleRow]:
    query = (
        "SELECT id, run_id, cron, timezone, created_at, last_fired_at, made_by, made_in"
        " FROM schedules"
    )
    if run_id is None:
        return [ScheduleRow(*row) for row in connection.execute(query + " ORDER BY id")]
    rows = connection.execute(query + " WHERE run_id = ? ORDER BY id", (run_id,))
    return [ScheduleRow(*row) for row in rows]


def remove_schedule(connection: sqlite3.Connection, schedule_id: int) -> bool:
    return connection.execute("DELETE FROM schedules WHERE id = ?", (schedule_id,)).rowcount > 0


def schedule_fired(connection: sqlite3.Connection, schedule_id: int, *, at: float) -> None:
    connection.execute("UPDATE schedules SET last_fired_at = ? WHERE id = ?", (at, schedule_id))


_APPROVAL_COLUMNS = (
    "id, requested_at, platform, user_id, conversation_id, command, audience,"
    " approved_at, approved_by"
)


def request_approval(
    connection: sqlite3.Connection,
    *,
    now: float,
    platform: str,
    user_id: str,
    conversation_id: str,
    command: str,
    audience: int,
) -> int:
    return connection.execute(
        "INSERT INTO approvals (requested_at, platform, user_id, conversation_id, command,"
        " audience) VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
        (now, platform, user_id, conversation_id, command, audience),
    ).fetchone()[0]


def approval(connection: sqlite3.Connection, approval_id: int) -> Approval | None:
    row = connection.execute(
        f"SELECT {_APPROVAL_COLUMNS} FROM approvals WHERE id = ?", (approval_id,)
    ).fetchone()
    return Approval(*row) if row else None


def approve(connection: sqlite3.Connection, approval_id: int, *, by: str, now: float) -> bool:
    """Mark the request approved, unless someone did already (only one approval runs it)."""
    return (
        connection.execute(
            "UPDATE approvals SET approved_at = ?, approved_by = ?"
            " WHERE id = ? AND approved_at IS NULL",
            (now, by, approval_id),
        ).rowcount
        == 1
    )


_RUN_SCHEDULE_COLUMNS = (
    "id, command, platform, user_id, conversation_id, at, cron, timezone, until,"
    " created_at, last_fired_at, last_run_id, ended"
)


def add_run_schedule(connection: sqlite3.Connection, **schedule: Any) -> RunScheduleRow:
    columns = ", ".join(schedule)
    schedule_id = connection.execute(
        f"INSERT INTO run_schedules ({columns}) VALUES ({', '.join('?' * len(schedule))})"
        " RETURNING id",
        tuple(schedule.values()),
    ).fetchone()[0]
    return list_run_schedules(connection, schedule_id=schedule_id)[0]


def list_run_schedules(
    connection: sqlite3.Connection, schedule_id: int | None = None
) -> list[RunScheduleRow]:
    rows = connection.execute(
        f"SELECT {_RUN_SCHEDULE_COLUMNS} FROM run_schedules WHERE id = coalesce(?, id) ORDER BY id",
        (schedule_id,),
    )
    return [RunScheduleRow(*row[:-1], bool(row[-1])) for row in rows]


def run_schedule_fired(
    connection: sqlite3.Connection, schedule_id: int, *, at: float, run_id: int | None, ended: bool
) -> None:
    connection.execute(
        "UPDATE run_schedules SET last_fired_at = ?, last_run_id = coalesce(?, last_run_id),"
        " ended = ? WHERE id = ?",
        (at, run_id, int(ended), schedule_id),
    )


def end_run_schedule(connection: sqlite3.Connection, schedule_id: int) -> bool:
    return (
        connection.execute(
            "UPDATE run_schedules SET ended = 1 WHERE id = ? AND ended = 0", (schedule_id,)
        ).rowcount
        == 1
    )


def set_closing(connection: sqlite3.Connection, run_id: int, *, at: float | None) -> None:
    connection.execute("UPDATE runs SET closes_at = ? WHERE id = ?", (at, run_id))


def runs_to_close(connection: sqlite3.Connection, *, now: float) -> list[int]:
    rows = connection.execute(
        "SELECT id FROM runs WHERE closes_at <= ? AND status = 'open' ORDER BY id", (now,)
    )
    return [run_id for (run_id,) in rows]
