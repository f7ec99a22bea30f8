"""References to answers, as digests quote them, and what a reply to one needs to know."""

from __future__ import annotations

import sqlite3

from storage.records import ReplyTarget, ReplyThread
from storage.turns import batched, decoded


def remember_references(
    connection: sqlite3.Connection,
    *,
    run_id: int,
    references: list[tuple[str, int, str]],
    now: float,
) -> None:
    """Keep (reference, response id, question id) of quotes a digest of the run shows."""
    connection.executemany(
        "INSERT INTO answer_references (reference, run_id, response_id, question_id, created_at)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        [(reference, run_id, rid, question, now) for reference, rid, question in references],
    )


def reply_target(connection: sqlite3.Connection, reference: str) -> ReplyTarget | None:
    row = connection.execute(
        "SELECT ar.run_id, ru.survey_id, ru.purged_at IS NOT NULL, r.id IS NOT NULL, r.pid,"
        " r.may_reply, r.language, a.value, ad.platform, ad.conversation_id,"
        " coalesce(t.replies, 0), t.replies_since"
        " FROM answer_references ar JOIN runs ru ON ru.id = ar.run_id"
        " LEFT JOIN responses r ON r.id = ar.response_id"
        " LEFT JOIN answers a ON a.response_id = ar.response_id AND a.question_id = ar.question_id"
        " LEFT JOIN addresses ad ON ad.pid = r.pid"
        " LEFT JOIN reply_threads t ON t.reference = ar.reference WHERE ar.reference = ?",
        (reference,),
    ).fetchone()
    if row is None:
        return None
    run_id, survey_id, purged, found, pid, may_reply, language, value, platform, to, *replies = row
    asked = None if may_reply is None else bool(may_reply)
    return ReplyTarget(
        run_id,
        survey_id,
        bool(purged),
        bool(found),
        pid,
        asked,
        language,
        decoded(value),
        platform,
        to,
        *replies,
    )


def open_threads(
    connection: sqlite3.Connection, wanted: list[tuple[str, float]]
) -> dict[tuple[str, float], ReplyThread | None]:
    """For each (pid, since): the person's latest thread opened since then and not closed,
    if any; all in one statement."""
    found: dict[tuple[str, float], ReplyThread | None] = dict.fromkeys(wanted)
    rows = batched(
        connection,
        "SELECT batch.pid, batch.at, t.reference, t.run_id, ru.survey_id, ru.staff_channel,"
        " t.messages FROM batch JOIN reply_threads t ON t.pid = batch.pid"
        " JOIN runs ru ON ru.id = t.run_id"
        " WHERE t.closed_at IS NULL AND t.opened_at >= batch.at"
        " ORDER BY t.opened_at",  # the last of each person's wins
        "pid, at",
        wanted,
    )
    for pid, since, *thread in rows:
        found[pid, since] = ReplyThread(*thread)
    return found


def close_thread(connection: sqlite3.Connection, reference: str, *, now: float) -> bool:
    return (
        connection.execute(
            "UPDATE reply_threads SET closed_at = ? WHERE reference = ? AND closed_at IS NULL",
            (now, reference),
        ).rowcount
        == 1
    )
