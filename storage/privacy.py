"""What a participant can ask of their data: see it, and have it erased.

Answers to anonymous surveys carry no link to the participant, so they are
neither shown nor erased here: nobody can tell which are theirs.
"""

from __future__ import annotations

import sqlite3

from storage.dialect import claimed, is_postgres
from storage.records import Erased, StoredResponse
from storage.turns import decoded, first_delivery, lock_participants


def stored_responses(connection: sqlite3.Connection, pid: str) -> list[StoredResponse]:
    found = []
    responses = connection.execute(
        "SELECT r.id, runs.survey_id, r.status, r.may_reply FROM responses r"
        " JOIN runs ON runs.id = r.run_id WHERE r.pid = ? ORDER BY r.id",
        (pid,),
    ).fetchall()
    for response_id, survey_id, status, may_reply in responses:
        answers = [
            (question_id, decoded(value))
            for question_id, value in connection.execute(
                "SELECT question_id, value FROM answers WHERE response_id = ?", (response_id,)
            )
        ]
        asked = None if may_reply is None else bool(may_reply)
        found.append(StoredResponse(survey_id, status, answers, asked))
    return found


def erase_participant(
    connection: sqlite3.Connection,
    pid: str,
    *,
    event_key: str,
    now: float,
    platform: str,
    conversation_id: str,
    confirmation: str,
) -> Erased | None:
    """Erase everything linked to the participant, in one transaction with the event that
    asked for it and the confirmation to send. None if that event was already handled."""
    if is_postgres(connection):  # a turn another worker is storing waits, then finds none
        lock_participants(connection, {pid})
    if not first_delivery(connection, event_key=event_key, now=now):
        return None
    responses = [r for (r,) in connection.execute("SELECT id FROM responses WHERE pid = ?", (pid,))]
    answers = 0
    for response_id in responses:
        answers += connection.execute(
            "DELETE FROM answers WHERE response_id = ?", (response_id,)
        ).rowcount
        # a moderator's decisions on them go too
        connection.execute("DELETE FROM reviews WHERE response_id = ?", (response_id,))
    connection.execute("DELETE FROM responses WHERE pid = ?", (pid,))
    connection.execute("DELETE FROM conversations WHERE pid = ?", (pid,))
    connection.execute("DELETE FROM reply_threads WHERE pid = ?", (pid,))
    address = connection.execute(
        "SELECT platform, conversation_id FROM addresses WHERE pid = ?", (pid,)
    ).fetchone()
    if address:  # replies not yet sent would reveal what they said, and so would a transcript
        connection.execute("DELETE FROM outbox WHERE platform = ? AND conversation_id = ?", address)
        connection.execute("DELETE FROM web_messages WHERE conversation_id = ?", (address[1],))
    connection.execute("DELETE FROM pending_invitations WHERE pid = ?", (pid,))
    connection.execute("DELETE FROM addresses WHERE pid = ?", (pid,))
    connection.execute("DELETE FROM participants WHERE pid = ?", (pid,))
    columns, values = claimed(connection)
    outbox_id = connection.execute(
        f"INSERT INTO outbox (platform, conversation_id, body, created_at{columns})"
        f" VALUES (?, ?, ?, ?{values}) RETURNING id",
        (platform, conversation_id, confirmation, now),
    ).fetchone()[0]
    return Erased(len(responses), answers, [outbox_id])
