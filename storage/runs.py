"""Runs of a survey, and what coordinators read and record about them."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from storage.dialect import claimed
from storage.records import (
    AnswerRow,
    AuditEntry,
    Reachable,
    ResponseRow,
    RunRow,
    RunRows,
)
from storage.retention import DELETE_CHUNK
from storage.turns import batched, decoded

_RUN_COLUMNS = (
    "r.id, r.survey_id, r.audience, r.status, r.staff_channel, r.created_at,"
    " (SELECT count(*) FROM responses WHERE run_id = r.id AND status != 'declined'),"
    " (SELECT count(*) FROM responses WHERE run_id = r.id AND status = 'completed'),"
    " (SELECT count(*) FROM conversations WHERE run_id = r.id),"
    " (SELECT count(*) FROM conversations c JOIN participants p ON p.pid = c.pid"
    "  WHERE c.run_id = r.id AND p.opted_out_at IS NOT NULL),"
    " r.purged_at, r.remind_after, r.remind_at_most, r.closes_at"
)
# Responses that have ended one way or another: nobody is reminded of them.
_ENDED = "('completed', 'declined', 'stopped', 'expired')"


def create_run(
    connection: sqlite3.Connection,
    *,
    survey_id: str,
    audience: str,
    staff_channel: str | None,
    now: float,
) -> int:
    return connection.execute(
        "INSERT INTO runs (survey_id, audience, status, staff_channel, created_at)"
        " VALUES (?, ?, 'open', ?, ?) RETURNING id",
        (survey_id, audience, staff_channel, now),
    ).fetchone()[0]


def get_run(connection: sqlite3.Connection, run_id: int) -> RunRow | None:
    row = connection.execute(f"SELECT {_RUN_COLUMNS} FROM runs r WHERE r.id = ?", (run_id,))
    found = row.fetchone()
    return RunRow(*found) if found else None


def list_runs(connection: sqlite3.Connection) -> list[RunRow]:
    rows = connection.execute(f"SELECT {_RUN_COLUMNS} FROM runs r ORDER BY r.id")
    return [RunRow(*row) for row in rows]


def set_staff_channel(connection: sqlite3.Connection, run_id: int, *, channel: str) -> None:
    connection.execute("UPDATE runs SET staff_channel = ? WHERE id = ?", (channel, run_id))


def set_reminder_policy(
    connection: sqlite3.Connection, run_id: int, *, after: float | None, at_most: int | None
) -> None:
    connection.execute(
        "UPDATE runs SET remind_after = ?, remind_at_most = ? WHERE id = ?",
        (after, at_most, run_id),
    )


def close_run(connection: sqlite3.Connection, run_id: int, *, now: float) -> bool:
    closed = connection.execute(
        "UPDATE runs SET status = 'closed', closed_at = ? WHERE id = ? AND status = 'open'",
        (now, run_id),
    )
    return closed.rowcount == 1


def rows_of(connection: sqlite3.Connection, run_id: int) -> RunRows:
    """The run's responses, answers and digest watermark, read in one transaction so a
    turn committed meanwhile cannot be half in them."""
    connection.execute("BEGIN")
    try:
        return RunRows(
            last_digest(connection, run_id),
            responses_of(connection, run_id),
            answers_of(connection, run_id),
        )
    finally:
        connection.execute("COMMIT")


def open_to_everyone(connection: sqlite3.Connection, survey_id: str) -> tuple[int, str] | None:
    """The survey's run for everyone (its keyword's run) as (id, status), an open one first."""
    return everyone_runs(connection, [survey_id])[survey_id]


def everyone_runs(
    connection: sqlite3.Connection, survey_ids: list[str]
) -> dict[str, tuple[int, str] | None]:
    """`open_to_everyone` of each survey, in one statement."""
    found: dict[str, tuple[int, str] | None] = dict.fromkeys(survey_ids)
    rows = batched(
        connection,
        "SELECT runs.survey_id, id, status FROM runs JOIN batch ON batch.survey_id = runs.survey_id"
        " WHERE audience = 'open' ORDER BY status = 'open', id",  # the last of each one wins
        "survey_id",
        [(survey_id,) for survey_id in survey_ids],
    )
    for survey_id, run_id, status in rows:
        found[survey_id] = (run_id, status)
    return found


def run_for_everyone(
    connection: sqlite3.Connection,
    *,
    survey_id: str,
    now: float,
    opens_itself: bool,
    staff_channel: str | None,
) -> int | None:
    """The survey's run open to anyone (the one its keyword joins). A survey that opens
    itself gets one the first time; any other waits for a coordinator. None once closed."""
    found = open_to_everyone(connection, survey_id)
    if found:
        return found[0] if found[1] == "open" else None
    if not opens_itself:
        return None
    return create_run(
        connection, survey_id=survey_id, audience="open", staff_channel=staff_channel, now=now
    )


# A response and an answer as ResponseRow and AnswerRow read them (with any decision
# on the answer), for a whole run and for an export's chunks alike.
_RESPONSES = (
    "SELECT id, status, completed_at, language, channel, assisted_by, reached_by FROM responses"
)
_ANSWERS = (
    "SELECT a.response_id, a.question_id, a.value, a.given_by, v.decision FROM answers a"
    " LEFT JOIN reviews v ON v.response_id = a.response_id AND v.question_id = a.question_id"
)


def responses_of(connection: sqlite3.Connection, run_id: int) -> list[ResponseRow]:
    rows = connection.execute(f"{_RESPONSES} WHERE run_id = ? ORDER BY id", (run_id,))
    return [ResponseRow(*row) for row in rows]


def answers_of(connection: sqlite3.Connection, run_id: int) -> list[AnswerRow]:
    rows = connection.execute(
        f"{_ANSWERS} JOIN responses r ON r.id = a.response_id WHERE r.run_id = ?"
        " ORDER BY a.response_id",
        (run_id,),
    )
    return list(_answer_rows(rows, {}))


def _answer_rows(rows: Iterable[tuple], values: dict[str | None, Any]) -> Iterator[AnswerRow]:
    """AnswerRows of `_ANSWERS`' rows; `values` remembers decoded values, since choices and
    points recur: each is read once."""
    for response_id, question, value, given_by, decision in rows:
        if value not in values:
            values[value] = decoded(value)
        yield AnswerRow(response_id, question, values[value], given_by, decision)


def response_ids(
    connection: sqlite3.Connection, run_id: int, *, shuffle: Callable[[list[int]], None] | None
) -> list[int]:
    """The run's response ids, in id order or as `shuffle` orders them."""
    listed = connection.execute("SELECT id FROM responses WHERE run_id = ? ORDER BY id", (run_id,))
    ids = [rid for (rid,) in listed]
    if shuffle is not None:
        shuffle(ids)
    return ids


def each_response(
    connection: sqlite3.Connection, ids: list[int]
) -> Iterator[tuple[ResponseRow, list[AnswerRow]]]:
    """The responses one by one with their answers, in the order of `ids`, read in chunks:
    memory follows the chunk, not the run. Call inside a transaction for one snapshot."""
    for first in range(0, len(ids), EXPORT_CHUNK):
        values: dict[str | None, Any] = {}  # decoded once a chunk: memory stays the chunk's
        chunk = ids[first : first + EXPORT_CHUNK]
        marks = ",".join("?" * len(chunk))
        responses = {
            row[0]: ResponseRow(*row)
            for row in connection.execute(f"{_RESPONSES} WHERE id IN ({marks})", chunk)
        }
        answers: dict[int, list[AnswerRow]] = {}
        rows = connection.execute(f"{_ANSWERS} WHERE a.response_id IN ({marks})", chunk)
        for answer in _answer_rows(rows, values):
            answers.setdefault(answer.response_id, []).append(answer)
        for rid in chunk:
            yield responses[rid], answers.get(rid, [])


EXPORT_CHUNK = 500  # responses read at a time for an export


def review(
    connection: sqlite3.Connection,
    *,
    response_id: int,
    question_id: str,
    decision: str,
    now: float,
) -> None:
    connection.execute(
        "INSERT INTO reviews (response_id, question_id, decision, decided_at)"
        " VALUES (?, ?, ?, ?) ON CONFLICT (response_id, question_id)"
        " DO UPDATE SET decision = excluded.decision, decided_at = excluded.decided_at",
        (response_id, question_id, decision, now),
    )


def in_progress(
    connection: sqlite3.Connection, run_id: int, *, active_since: float
) -> list[Reachable]:
    """Participants of the run who are still on their way through it: not finished,
    stopped or expired (no change since `active_since`, unless they have the accessible
    profile on, which never expires), and not opted out."""
    rows = connection.execute(
        "SELECT c.pid, a.platform, a.conversation_id, c.state, c.reminders, c.reminded_at,"
        " c.updated_at"
        " FROM conversations c"
        " JOIN addresses a ON a.pid = c.pid"
        " JOIN participants p ON p.pid = c.pid"
        " LEFT JOIN responses r ON r.id = c.response_id"  # none: anonymous, not begun
        f" WHERE c.run_id = ? AND c.finished = 0 AND coalesce(r.status, '') NOT IN {_ENDED}"
        " AND (c.updated_at >= ? OR p.accessible_at IS NOT NULL) AND p.opted_out_at IS NULL",
        (run_id, active_since),
    )
    return [Reachable(*row) for row in rows]


def expire_conversations(connection: sqlite3.Connection, *, survey_id: str, before: float) -> int:
    """Mark up to DELETE_CHUNK responses of the survey as expired whose conversation has not
    changed since `before`; how many. The conversation itself stays as it was, so that
    the person is told the survey moved on when they come back."""
    return connection.execute(
        "UPDATE responses SET status = 'expired' WHERE id IN ("
        " SELECT c.response_id FROM conversations c"
        " JOIN runs ru ON ru.id = c.run_id JOIN responses r ON r.id = c.response_id"
        " JOIN participants p ON p.pid = c.pid"
        f" WHERE ru.survey_id = ? AND c.finished = 0 AND r.status NOT IN {_ENDED}"
        " AND c.updated_at < ? AND p.accessible_at IS NULL LIMIT ?)",
        (survey_id, before, DELETE_CHUNK),
    ).rowcount


def last_digest(connection: sqlite3.Connection, run_id: int) -> float | None:
    row = connection.execute(
        "SELECT max(covered_until) FROM digests WHERE run_id = ?", (run_id,)
    ).fetchone()
    return row[0]


def record_digest(
    connection: sqlite3.Connection, run_id: int, *, covered_until: float, now: float
) -> None:
    connection.execute(
        "INSERT INTO digests (run_id, covered_until, created_at) VALUES (?, ?, ?)",
        (run_id, covered_until, now),
    )


def audit(
    connection: sqlite3.Connection,
    *,
    now: float,
    platform: str,
    user_id: str,
    command: str,
    allowed: bool,
    outcome: str,
    run_id: int | None = None,
) -> None:
    connection.execute(
        "INSERT INTO command_audit (at, platform, user_id, command, allowed, outcome, run_id)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (now, platform, user_id, command, int(allowed), outcome, run_id),
    )


def audit_entries(
    connection: sqlite3.Connection, *, run_id: int | None, since: float | None, limit: int
) -> list[AuditEntry]:
    """The newest `limit` entries (of one run, since a time, if given), oldest first."""
    rows = connection.execute(
        "SELECT at, platform, user_id, command, allowed, outcome, run_id FROM command_audit"
        " WHERE (CAST(? AS INTEGER) IS NULL OR run_id = ?) AND at >= coalesce(?, at)"
        " ORDER BY at DESC, id DESC LIMIT ?",
        (run_id, run_id, since, limit),
    ).fetchall()
    return [AuditEntry(at, p, u, c, bool(a), o, r) for at, p, u, c, a, o, r in reversed(rows)]


def post_digest(
    connection: sqlite3.Connection,
    run_id: int,
    *,
    covered_until: float,
    now: float,
    platform: str,
    channel: str,
    body: str,
) -> int:
    """Record the digest's watermark and queue its message in one transaction, so a digest
    is neither lost nor posted twice; returns the message's outbox id."""
    record_digest(connection, run_id, covered_until=covered_until, now=now)
    columns, values = claimed(connection)
    return connection.execute(
        f"INSERT INTO outbox (platform, conversation_id, body, created_at{columns})"
        f" VALUES (?, ?, ?, ?{values}) RETURNING id",
        (platform, channel, body, now),
    ).fetchone()[0]


def keyword_surveys_of(
    connection: sqlite3.Connection, keys: list[None]
) -> dict[None, dict[str, bool]]:
    """`keyword_surveys` as a read of many keys, of which there is only one (None)."""
    return {None: keyword_surveys(connection)}


def keyword_surveys(connection: sqlite3.Connection) -> dict[str, bool]:
    """For each survey that has had a run for everyone: whether one is open now."""
    rows = connection.execute(
        "SELECT survey_id, max(CASE WHEN status = 'open' THEN 1 ELSE 0 END) FROM runs"
        " WHERE audience = 'open' GROUP BY survey_id"
    )
    return {survey_id: bool(is_open) for survey_id, is_open in rows}
