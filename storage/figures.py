"""A run's figures for its digest: each distinct answer once with how many gave it, not
every answer. On SQLite they come from the tallies its triggers keep (storage/tallies.py),
so a digest of a million answers reads a few hundred rows (plus each distinct free-text
answer); PostgreSQL sums the answers up. All from one snapshot."""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Sequence
from typing import Any

from storage.dialect import is_postgres
from storage.records import LowestComment, RunFigures, ValueCount
from storage.runs import last_digest
from storage.tallies import tallied
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
        new_completed = _completed_between(connection, run_id, *window)
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
            reached_by=dict(
                connection.execute(
                    f"SELECT r.reached_by, count(*) FROM responses r WHERE {_COMPLETED}"
                    " AND r.reached_by IS NOT NULL GROUP BY r.reached_by",
                    (run_id,),
                )
            ),
            new_completed=new_completed,
            values=(
                _summed(connection, run_id, window)
                if is_postgres(connection)
                else _tallied(connection, run_id, window, new_completed)
            ),
            lowest_comments=_lowest_comments(connection, run_id, lowest, comments),
        )
    finally:
        connection.execute("COMMIT")


def _summed(
    connection: sqlite3.Connection, run_id: int, window: tuple[float, float]
) -> list[ValueCount]:
    """Each distinct answer summed from the answers themselves (PostgreSQL)."""
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


def _tallied(
    connection: sqlite3.Connection, run_id: int, window: tuple[float, float], in_window: int
) -> list[ValueCount]:
    """Each distinct answer from its tally (storage/tallies.py, SQLite), with how many of
    it are new counted from the fewer responses: the window's `in_window`, or those outside."""
    decided: Counter[tuple[str, str | None]] = Counter()
    decided_new: Counter[tuple[str, str | None]] = Counter()
    values = []
    for question, value, decision, count, new, first in connection.execute(
        "SELECT a.question_id, a.value, v.decision, count(*),"
        " count(*) FILTER (WHERE r.completed_at > ? AND r.completed_at <= ?), min(a.response_id)"
        " FROM reviews v JOIN answers a"
        " ON a.response_id = v.response_id AND a.question_id = v.question_id"
        f" JOIN responses r ON r.id = a.response_id WHERE {_COMPLETED}"
        " GROUP BY a.question_id, a.value, v.decision",
        (*window, run_id),
    ):
        values.append(ValueCount(question, decoded(value), decision, count, new, first))
        decided[question, value] += count
        decided_new[question, value] += new
    tallies = tallied(connection, run_id)
    new = _new(connection, run_id, window, in_window, tallies)
    undecided = []
    for question, value, count, first in tallies:
        left = count - decided[question, value]
        if left > 0:
            fresh = new[question, value] - decided_new[question, value]
            undecided.append((question, value, left, fresh, first))
    # the first to give an answer may have had it decided on, or have gone (erased)
    unsure = [(q, v) for q, v, _, _, first in undecided if first is None or decided[q, v]]
    firsts = _firsts_undecided(connection, run_id, unsure) if unsure else {}
    for question, value, left, fresh, first in undecided:
        first = firsts.get((question, value), first)
        values.append(ValueCount(question, decoded(value), None, left, fresh, first))
    return values


def _new(
    connection: sqlite3.Connection,
    run_id: int,
    window: tuple[float, float],
    in_window: int,
    tallies: list[tuple[str, str | None, int, int | None]],
) -> Counter[tuple[str, str | None]]:
    """How many completed in the window gave each answer: counted from the window's
    responses, or as all of them (the tallies) less those before and after it, whichever
    reads fewer."""
    since, until = window
    outside = [(float("-inf"), since), (until, float("inf"))]
    sizes = [_completed_between(connection, run_id, *span) for span in outside]
    if in_window <= sum(sizes):
        return _given_between(connection, run_id, *window)
    new = Counter({(q, value): n for q, value, n, _ in tallies})
    for span, size in zip(outside, sizes, strict=True):
        if size:
            new.subtract(_given_between(connection, run_id, *span))
    return new


def _completed_between(
    connection: sqlite3.Connection, run_id: int, after: float, until: float
) -> int:
    return connection.execute(
        f"SELECT count(*) FROM responses r WHERE {_COMPLETED}"
        " AND r.completed_at > ? AND r.completed_at <= ?",
        (run_id, after, until),
    ).fetchone()[0]


def _given_between(
    connection: sqlite3.Connection, run_id: int, after: float, until: float
) -> Counter[tuple[str, str | None]]:
    rows = connection.execute(
        "SELECT a.question_id, a.value, count(*) FROM responses r"
        f" JOIN answers a ON a.response_id = r.id WHERE {_COMPLETED}"
        " AND r.completed_at > ? AND r.completed_at <= ? GROUP BY a.question_id, a.value",
        (run_id, after, until),
    )
    return Counter({(question, value): n for question, value, n in rows})


def _firsts_undecided(
    connection: sqlite3.Connection, run_id: int, answers: list[tuple[str, str | None]]
) -> dict[tuple[str, str | None], int]:
    """The first completed response that gave each of `answers` with no decision on it: a
    scan of the run, needed only after an erasure or a decision on a first answer."""
    pairs = ",".join("(?, ?)" for _ in answers)
    rows = connection.execute(
        f"WITH unsure(question_id, value) AS (VALUES {pairs})"
        " SELECT a.question_id, a.value, min(a.response_id) FROM responses r"
        " JOIN answers a ON a.response_id = r.id"
        " JOIN unsure u ON u.question_id = a.question_id AND u.value IS a.value"
        f" {_DECISION} WHERE {_COMPLETED} AND v.decision IS NULL"
        " GROUP BY a.question_id, a.value",
        [*(x for pair in answers for x in pair), run_id],
    )
    return {(question, value): first for question, value, first in rows}


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
