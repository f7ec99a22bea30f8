"""One conversation turn, read and written as a unit.

`record_turn` writes everything a turn changes — the event id, the state, the
answer, the response's status and the replies to send — inside the caller's
transaction (the group-commit writer's), so a turn is stored whole or not at all.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class ConversationRow:
    run_id: int
    response_id: int | None
    state: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Loaded:
    """What a turn needs to know before it runs."""

    already_processed: bool
    known_participant: bool
    address: str | None  # the conversation id we last reached them at
    conversation: ConversationRow | None


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    platform: str
    conversation_id: str
    body: dict[str, Any]


@dataclass(frozen=True, slots=True)
class StoredOutbox:
    id: int
    platform: str
    conversation_id: str
    body: dict[str, Any]


@dataclass(slots=True)
class TurnRecord:
    event_key: str
    pid: str
    now: float
    outbox: list[OutboxMessage]
    new_participant: bool = False
    address: tuple[str, str, str] | None = None  # (platform, user id, conversation id) if changed
    run_id: int | None = None
    start_response: bool = False  # a new conversation: open a response for it
    anonymous: bool = False
    state: dict[str, Any] | None = None  # None: the conversation does not change
    response_id: int | None = None
    answer: tuple[str, Any] | None = None  # (question id, value); value None = skipped
    given_by: str = "participant"
    retract: str | None = None
    status: str | None = None  # the response's new status, if it changed
    finished: bool = False


def load(connection: sqlite3.Connection, pid: str, event_key: str) -> Loaded:
    processed = connection.execute(
        "SELECT 1 FROM processed_events WHERE event_id = ?", (event_key,)
    ).fetchone()
    row = connection.execute(
        "SELECT p.active_run, c.response_id, c.state, a.conversation_id FROM participants p"
        " LEFT JOIN conversations c ON c.pid = p.pid AND c.run_id = p.active_run"
        " LEFT JOIN addresses a ON a.pid = p.pid WHERE p.pid = ?",
        (pid,),
    ).fetchone()
    if row is None:
        return Loaded(processed is not None, False, None, None)
    run_id, response_id, state, address = row
    conversation = (
        None if state is None else ConversationRow(run_id, response_id, json.loads(state))
    )
    return Loaded(processed is not None, True, address, conversation)


def record_turn(connection: sqlite3.Connection, turn: TurnRecord) -> list[StoredOutbox] | None:
    """Store the turn; None if its event was already processed (then nothing changes)."""
    inserted = connection.execute(
        "INSERT OR IGNORE INTO processed_events (event_id, processed_at) VALUES (?, ?)",
        (turn.event_key, turn.now),
    )
    if inserted.rowcount == 0:
        return None
    if turn.new_participant:
        connection.execute(
            "INSERT OR IGNORE INTO participants (pid, created_at) VALUES (?, ?)",
            (turn.pid, turn.now),
        )
    if turn.address is not None:
        connection.execute(
            "INSERT OR REPLACE INTO addresses (pid, platform, user_id, conversation_id, updated_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (turn.pid, *turn.address, turn.now),
        )
    response_id = turn.response_id
    if turn.start_response:
        response_id = connection.execute(
            "INSERT INTO responses (run_id, pid, status, started_at, updated_at)"
            " VALUES (?, ?, 'started', ?, ?)",
            (turn.run_id, None if turn.anonymous else turn.pid, turn.now, turn.now),
        ).lastrowid
        connection.execute(
            "UPDATE participants SET active_run = ? WHERE pid = ?", (turn.run_id, turn.pid)
        )
    if turn.answer is not None:
        question_id, value = turn.answer
        connection.execute(
            "INSERT OR REPLACE INTO answers"
            " (response_id, question_id, value, given_by, answered_at) VALUES (?, ?, ?, ?, ?)",
            (
                response_id,
                question_id,
                json.dumps(value, ensure_ascii=False),
                turn.given_by,
                turn.now,
            ),
        )
    if turn.retract is not None:
        connection.execute(
            "DELETE FROM answers WHERE response_id = ? AND question_id = ?",
            (response_id, turn.retract),
        )
    if turn.status is not None:
        connection.execute(
            "UPDATE responses SET status = ?, updated_at = ?,"
            " completed_at = CASE WHEN ? = 'completed' THEN ? ELSE completed_at END WHERE id = ?",
            (turn.status, turn.now, turn.status, turn.now, response_id),
        )
    if turn.state is not None:
        # An anonymous response loses its last link to the participant when it ends.
        kept_response = None if (turn.anonymous and turn.finished) else response_id
        connection.execute(
            "INSERT OR REPLACE INTO conversations (pid, run_id, response_id, state, updated_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (turn.pid, turn.run_id, kept_response, json.dumps(turn.state), turn.now),
        )
    stored = []
    for message in turn.outbox:
        body = json.dumps(message.body, ensure_ascii=False)
        outbox_id = connection.execute(
            "INSERT INTO outbox (platform, conversation_id, body, created_at) VALUES (?, ?, ?, ?)",
            (message.platform, message.conversation_id, body, turn.now),
        ).lastrowid
        stored.append(
            StoredOutbox(outbox_id, message.platform, message.conversation_id, message.body)
        )
    return stored
