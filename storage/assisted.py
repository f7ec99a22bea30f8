"""Assisted sessions: an intermediary (staff with that role) typing the answers of a
person they reached by phone, in person or on a home visit.

A session row belongs to the intermediary; what they type goes to its respondent, a
new participant each session with no address, so nobody can reach that person
through civicbot and the intermediary's own data stays apart. A response they type
keeps who typed it (the intermediary's pseudonymous id) and how the person was
reached. Sessions change only inside a turn of their respondent (`record_turns`).
"""

from __future__ import annotations

from typing import Any

from storage.dialect import Connection
from storage.records import AssistSession, TurnRecord

DESCRIPTION = "assisted sessions: intermediaries typing answers for someone, and how reached"
# The session's columns after the intermediary's pid, as `session_of` reads them.
COLUMNS = "s.respondent_pid, s.survey_id, s.run_id, s.language, s.stage, s.reached_by"


def session_of(respondent: str | None, *rest: Any) -> AssistSession | None:
    """A session as COLUMNS select it; None where there is none (a left join)."""
    return None if respondent is None else AssistSession(respondent, *rest)


def record(connection: Connection, turns: list[TurnRecord]) -> None:
    """The sessions these turns open, move on or close (`record_turns` has made the
    intermediaries' participant rows, off which the sessions hang)."""
    changed = [(t, *t.assist) for t in turns if t.assist is not None]
    if not changed:
        return
    closed = [(intermediary,) for _, intermediary, session in changed if session is None]
    if closed:
        connection.executemany("DELETE FROM assisted_sessions WHERE intermediary_pid = ?", closed)
    opened = [(turn, intermediary, s) for turn, intermediary, s in changed if s is not None]
    if not opened:
        return
    connection.executemany(
        "INSERT INTO assisted_sessions (intermediary_pid, respondent_pid, survey_id, run_id,"
        " language, stage, reached_by, opened_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (intermediary_pid) DO UPDATE SET stage = excluded.stage,"
        " reached_by = excluded.reached_by",
        [
            (
                intermediary,
                session.respondent,
                session.survey_id,
                session.run_id,
                session.language,
                session.stage,
                session.reached_by,
                turn.now,
            )
            for turn, intermediary, session in opened
        ],
    )


SCHEMA = """
    CREATE TABLE assisted_sessions (
        intermediary_pid TEXT PRIMARY KEY,
        respondent_pid TEXT NOT NULL,
        survey_id TEXT NOT NULL,
        run_id BIGINT NOT NULL,
        language TEXT NOT NULL,
        stage TEXT NOT NULL,
        reached_by TEXT,
        opened_at DOUBLE PRECISION NOT NULL
    );
    ALTER TABLE responses ADD COLUMN assisted_by TEXT;
    ALTER TABLE responses ADD COLUMN reached_by TEXT;
"""
