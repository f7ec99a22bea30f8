"""A run's figures for its digest, summed up by SQLite: each distinct answer once with how
many gave it, not every answer. A digest of a million answers reads a few hundred rows
(plus each distinct free-text answer), all from one snapshot."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from storage.records import LowestComment, RunFigures, ValueCount
from storage.runs import last_digest
from storage.turns import decoded, encoded

_COMPLETED = "r.run_id = ? AND r.status = 'completed'"
_DECISION = "LEFT JOIN reviews v ON v.response_id = a.response_id AND v.question_id = a.question_id"


def figures_of(
    connection: sqlite3.Connection,
    run_id: int,
    *,
    until: float,
    lowest: Sequence[tuple[str, Any]],
    comments: Sequence[str],
) -> RunFigures:
    connection.execute("BEGIN")
    try:
        since = last_digest(connection, run_id)
        # new: completed after the last digest and by this one (an anonymous response's
        # time is rounded up to the hour, so it may lie ahead: it is new in a later one)
        window = (float("-inf") if since is None else since, until)
        return RunFigures(
            last_digest=since,
            statuses=dict(
                connection.execute(
                    "SELECT status, count(*) FROM responses WHERE run_id = ? GROUP BY status",
                    (run_id,),
                )
            ),
            languages=dict(
                connection.execute(
                    f"SELECT r.language, count(*) FROM responses r WHERE {_COMPLETED}"
                    " GROUP BY r.language",
                    (run_id,),
                )
            ),
            assisted=connection.execute(
                "SELECT count(DISTINCT a.response_id) FROM answers a"
                " INDEXED BY answers_assisted JOIN responses r ON r.id = a.response_id"
                f" WHERE a.given_by != 'participant' AND {_COMPLETED}",
                (run_id,),
            ).fetchone()[0],
            new_completed=connection.execute(
                f"SELECT count(*) FROM responses r WHERE {_COMPLETED}"
                " AND r.completed_at > ? AND r.completed_at <= ?",
                (run_id, *window),
            ).fetchone()[0],
            values=_values(connection, run_id, window),
            lowest_comments=_lowest_comments(connection, run_id, lowest, comments),
        )
    finally:
        connection.execute("COMMIT")


def _values(
    connection: sqlite3.Connection, run_id: int, window: tuple[float, float]
) -> list[ValueCount]:
    rows = connection.execute(
        "SELECT a.question_id, a.value, v.decision, count(*),"
        " count(*) FILTER (WHERE r.completed_at > ? AND r.completed_at <= ?), min(a.response_id)"
        f" FROM responses r JOIN answers a ON a.response_id = r.id {_DECISION}"
        f" WHERE {_COMPLETED} GROUP BY a.question_id, a.value, v.decision",
        (*window, run_id),
    )
    return [
        ValueCount(question, decoded(value), decision, count, new, first)
        for question, value, decision, count, new, first in rows
    ]


def _lowest_comments(
    connection: sqlite3.Connection,
    run_id: int,
    lowest: Sequence[tuple[str, Any]],
    comments: Sequence[str],
) -> list[LowestComment]:
    if not lowest or not comments:
        return []
    pairs = ",".join("(?, ?)" for _ in lowest)
    asked = ",".join("?" for _ in comments)
    rows = connection.execute(
        f"WITH lowest(question_id, value) AS (VALUES {pairs})"
        " SELECT DISTINCT a.response_id, a.question_id, a.value, v.decision FROM responses r"
        " JOIN answers s ON s.response_id = r.id"
        " JOIN lowest l ON l.question_id = s.question_id AND l.value = s.value"
        f" JOIN answers a ON a.response_id = r.id {_DECISION}"
        f" WHERE {_COMPLETED} AND a.question_id IN ({asked}) AND a.value IS NOT NULL",
        [*(x for question, value in lowest for x in (question, encoded(value))), run_id, *comments],
    )
    return [
        LowestComment(rid, question, decoded(value), decision)
        for rid, question, value, decision in rows
    ]
