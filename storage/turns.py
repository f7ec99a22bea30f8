"""One conversation turn, read and written as a unit.

`record_turn` writes everything a turn changes — the event id, the state, the
answer, the response's status and the replies to send — inside the caller's
transaction (the group-commit writer's), so a turn is stored whole or not at all.
"""

from __future__ import annotations

import json
import random
import sqlite3
from functools import lru_cache
from typing import Any

from storage import assisted
from storage.dialect import (
    Connection,
    as_records,
    claimed,
    is_postgres,
    next_ids,
    records,
)
from storage.records import ConversationRow, Loaded, TurnConflict, TurnRecord

# what secrets.randbits uses, without loading OpenSSL into the writer for it
_unpredictable = random.SystemRandom()

# Rows in one statement, at most. With chunks of 1, 2, 4 … 256 rows each kind of change
# has 9 statement texts: with a dozen kinds, they all fit the 128 statements a
# connection keeps prepared. (Texts for every batch size filled that cache with
# statements of hundreds of KiB each: 20 MiB more in the writer process.)
MAX_ROWS = 256
# A reference's staff replies are counted by the day from the first (bot/replies.py caps them).
_SAME_DAY = "reply_threads.replies_since > excluded.opened_at - 86400"


def encoded(value: Any) -> str:
    """An answer's value as the answers table keeps it (JSON; null when skipped)."""
    return json.dumps(value, ensure_ascii=False)


def decoded(stored: str | None) -> Any:
    """An answer's value as `encoded` wrote it: the one place that reads it back."""
    return None if stored is None else json.loads(stored)


# A conversation's columns after its run id, as `_conversation` reads them.
_CONVERSATION = "c.response_id, c.state, c.finished, r.status = 'open', c.updated_at"


_LOADED = (
    f"p.active_run, {_CONVERSATION}, a.conversation_id, p.opted_out_at IS NOT NULL, p.turns,"
    f" p.accessible_at IS NOT NULL, {assisted.COLUMNS}"
    " FROM participants p"
    " LEFT JOIN conversations c ON c.pid = p.pid AND c.run_id = p.active_run"
    " LEFT JOIN runs r ON r.id = c.run_id"
    " LEFT JOIN addresses a ON a.pid = p.pid"
    " LEFT JOIN assisted_sessions s ON s.intermediary_pid = p.pid"
)
_SESSION_COLUMNS = assisted.COLUMNS.count(",") + 1
_LOAD = f"SELECT {_LOADED} WHERE p.pid = ?"
_CONVERSATION_IN = (
    f"SELECT c.run_id, {_CONVERSATION} FROM conversations c JOIN runs r ON r.id = c.run_id"
    " WHERE c.pid = ? AND c.run_id = ?"
)


def load(connection: Connection, pid: str) -> Loaded:
    row = connection.execute(_LOAD, (pid,)).fetchone()
    return _loaded(row)


def load_many(connection: Connection, pids: list[str]) -> dict[str, Loaded]:
    """`load` of many participants in one statement."""
    rows = batched(
        connection,
        f"SELECT p.pid, {_LOADED} JOIN batch b ON b.pid = p.pid",
        "pid",
        [(pid,) for pid in pids],
    )
    found = {pid: _loaded(row) for pid, *row in rows}
    return {pid: found.get(pid) or _loaded(None) for pid in pids}


def _loaded(row: tuple | list | None) -> Loaded:
    if row is None:
        return Loaded(False, None, None)
    *conversation, address, opted_out, version, accessible = row[:-_SESSION_COLUMNS]
    session = assisted.session_of(*row[-_SESSION_COLUMNS:])
    conversation_row = _conversation(*conversation)
    return Loaded(
        True, address, conversation_row, bool(opted_out), version, session, bool(accessible)
    )


def conversation_in(connection: Connection, pid: str, run_id: int) -> ConversationRow | None:
    """The participant's conversation in one run, whether or not it is their current one."""
    row = connection.execute(_CONVERSATION_IN, (pid, run_id)).fetchone()
    return None if row is None else _conversation(*row)


def _conversation(
    run_id: int,
    response_id: int | None,
    state: str | None,
    finished: int,
    run_open: int,
    updated_at: float | None,
) -> ConversationRow | None:
    """A conversation as `_CONVERSATION` selects it; None when there is none (a left join)."""
    if state is None:
        return None
    return ConversationRow(
        run_id, response_id, state, bool(finished), bool(run_open), updated_at or 0.0
    )


def record_turns(
    connection: Connection, turns: list[TurnRecord]
) -> list[tuple[list[int], int | None] | TurnConflict | None]:
    """Store many turns at once. Each result is (the outbox ids of the turn's replies,
    its response id), or None if its event was already processed (then the turn changed
    nothing), or on PostgreSQL a TurnConflict if another worker stored a turn of the
    participant since this one's was read (then it changed nothing either).

    Each kind of change is one statement whose rows come in one multi-row VALUES list:
    that costs a third of an executemany with a row per turn. A participant has at most
    one turn in a batch (their turns are serialised), so no statement meets the same row
    twice.
    """
    if is_postgres(connection):
        with connection.pipeline():  # a round trip only where a result is read
            return _record_turns(connection, turns)
    return _record_turns(connection, turns)


def _record_turns(
    connection: Connection, turns: list[TurnRecord]
) -> list[tuple[list[int], int | None] | TurnConflict | None]:
    every = turns
    conflicts = _conflicts(connection, turns) if is_postgres(connection) else {}
    turns = [turn for turn in turns if id(turn) not in conflicts]
    # Noting the events is what finds the redeliveries: each insert probes the unique
    # index (a join of the batch with the table was planned as a scan of all of it).
    new_events = {
        key
        for (key,) in batched(
            connection,
            "INSERT INTO processed_events (event_id, processed_at) SELECT * FROM batch WHERE true"
            " ON CONFLICT DO NOTHING RETURNING event_id",
            "event_id, at",
            [(turn.event_key, turn.now) for turn in turns],
        )
    }
    fresh: list[TurnRecord] = []
    for turn in turns:
        if turn.event_key in new_events:
            new_events.discard(turn.event_key)  # the same event twice: the second is a redelivery
            fresh.append(turn)
    _first_turn_changes(connection, fresh)
    assisted.record(connection, fresh)
    batched(
        connection,
        "UPDATE participants SET opted_out_at = batch.at FROM batch"
        " WHERE participants.pid = batch.pid",
        "pid, at",
        [(t.pid, t.now if t.opted_out else None) for t in fresh if t.opted_out is not None],
    )
    batched(
        connection,
        "UPDATE participants SET accessible_at = batch.at FROM batch"
        " WHERE participants.pid = batch.pid",
        "pid, at",
        [(t.pid, t.now if t.accessible else None) for t in fresh if t.accessible is not None],
    )
    batched(
        connection,
        "UPDATE conversations SET reminders = reminders + 1, reminded_at = batch.at FROM batch"
        " WHERE conversations.pid = batch.pid AND conversations.run_id = batch.run_id",
        "pid, run_id, at",
        [(t.pid, t.run_id, t.now) for t in fresh if t.reminded],
    )
    batched(
        connection,
        "UPDATE conversations SET told_at = batch.at FROM batch"
        " WHERE conversations.pid = batch.pid AND conversations.run_id = batch.run_id",
        "pid, run_id, at",
        [(t.pid, t.run_id, t.now) for t in fresh if t.told],
    )
    batched(
        connection,
        "INSERT INTO answers (response_id, question_id, value, given_by, answered_at)"
        " SELECT * FROM batch WHERE true ON CONFLICT (response_id, question_id) DO UPDATE"
        " SET value = excluded.value, given_by = excluded.given_by,"
        " answered_at = excluded.answered_at",
        "response_id, question_id, value, given_by, at",
        [
            (
                t.response_id,
                t.answer[0],
                encoded(t.answer[1]),
                t.given_by,
                t.response_time,
            )
            for t in fresh
            if t.answer is not None
        ],
    )
    batched(
        connection,
        "DELETE FROM answers WHERE (response_id, question_id) IN (SELECT * FROM batch)",
        "response_id, question_id",
        [(t.response_id, t.retract) for t in fresh if t.retract is not None],
    )
    batched(
        connection,
        "UPDATE responses SET status = batch.status, updated_at = batch.at,"
        " completed_at = CASE WHEN batch.status = 'completed' THEN batch.at ELSE completed_at END,"
        " language = coalesce(batch.language, responses.language)"
        " FROM batch WHERE responses.id = batch.id",
        "status, at, language, id",
        [
            (t.status, t.response_time, t.language, t.response_id)
            for t in fresh
            if t.status is not None
        ],
    )
    batched(
        connection,
        "UPDATE responses SET may_reply = batch.may_reply FROM batch WHERE responses.id = batch.id",
        "may_reply, id",
        [(int(t.may_reply), t.response_id) for t in fresh if t.may_reply is not None],
    )
    batched(
        connection,
        "INSERT INTO reply_threads (reference, pid, run_id, opened_at, replies, replies_since)"
        " SELECT reference, pid, run_id, at, 1, at FROM batch WHERE true"
        " ON CONFLICT (reference) DO UPDATE"
        " SET pid = excluded.pid, run_id = excluded.run_id, opened_at = excluded.opened_at,"
        " closed_at = NULL, messages = 0,"
        f" replies = CASE WHEN {_SAME_DAY} THEN reply_threads.replies + 1 ELSE 1 END,"
        f" replies_since = CASE WHEN {_SAME_DAY} THEN reply_threads.replies_since"
        "  ELSE excluded.opened_at END",
        "reference, pid, run_id, at",
        [(t.opens_thread[0], t.pid, t.opens_thread[1], t.now) for t in fresh if t.opens_thread],
    )
    batched(
        connection,
        "UPDATE reply_threads SET messages = messages + 1 FROM batch"
        " WHERE reply_threads.reference = batch.reference",
        "reference",
        [(t.thread_message,) for t in fresh if t.thread_message],
    )
    batched(
        connection,
        "UPDATE responses SET may_reply = 0 FROM batch"
        " WHERE responses.pid = batch.pid AND responses.may_reply = 1",
        "pid",
        [(t.pid,) for t in fresh if t.replies_withdrawn],
    )
    moved_on = [
        _conversation_values(t) for t in fresh if t.state is not None and not t.opens_conversation
    ]
    batched(
        connection,
        "UPDATE conversations SET response_id = batch.response_id, state = batch.state,"
        " updated_at = batch.at FROM batch"
        " WHERE conversations.pid = batch.pid AND conversations.run_id = batch.run_id",
        CONVERSATION_COLUMNS,
        moved_on,
    )
    # `finished` apart, and only where it changes: a column of the index by run, which
    # an UPDATE that sets it rewrites in every row it touches (with 100,000 conversations,
    # twice the CPU of the rest of the update)
    batched(
        connection,
        "UPDATE conversations SET finished = batch.finished FROM batch"
        " WHERE conversations.pid = batch.pid AND conversations.run_id = batch.run_id"
        " AND conversations.finished != batch.finished",
        CONVERSATION_COLUMNS,
        moved_on,
    )
    if is_postgres(connection):
        batched(
            connection,
            "UPDATE participants SET turns = turns + 1 FROM batch"
            " WHERE participants.pid = batch.pid",
            "pid",
            [(t.pid,) for t in fresh],
        )
    stored = _queue_replies(connection, fresh)
    return [
        conflicts.get(id(turn))
        or ((stored[id(turn)], turn.response_id) if id(turn) in stored else None)
        for turn in every
    ]


PARTICIPANT_LOCKS = 1  # the first key of PostgreSQL's advisory locks on participants


def lock_participants(connection: Connection, pids: set[str]) -> list[tuple[str]]:
    """On PostgreSQL: hold these participants until the commit, every worker taking such
    locks in one order (of their keys), so that no two wait for each other in a circle.
    The pids, as batch rows."""
    rows = [(pid,) for pid in sorted(pids)]
    batched(
        connection,
        f"SELECT pg_advisory_xact_lock({PARTICIPANT_LOCKS}, key) FROM"
        " (SELECT hashtext(pid) AS key FROM batch ORDER BY 1) keys",
        "pid",
        rows,
    )
    return rows


def _conflicts(connection: Connection, turns: list[TurnRecord]) -> dict[int, TurnConflict]:
    """The turns computed from a participant as they no longer are. Each participant is
    locked first, until the commit: a worker storing a turn of theirs meanwhile waits,
    and then finds this one's count of their turns."""
    pids = lock_participants(connection, {turn.pid for turn in turns})
    versions = dict(
        batched(
            connection,
            "SELECT pid, turns FROM participants WHERE pid IN (SELECT pid FROM batch)",
            "pid",
            pids,
        )
    )
    return {
        id(turn): TurnConflict()
        for turn in turns
        if turn.based_on is not None and versions.get(turn.pid, 0) != turn.based_on
    }


def add_participants(connection: Connection, rows: list[tuple[str, float]]) -> None:
    """A participant row for each (pid, at) that has none yet."""
    batched(
        connection,
        "INSERT INTO participants (pid, created_at) SELECT * FROM batch WHERE true"
        " ON CONFLICT DO NOTHING",
        "pid, at",
        rows,
    )


def put_addresses(connection: Connection, rows: list[tuple[str, str, str, str, float]]) -> None:
    """Where each (pid, platform, user id, conversation id, at) is reached from now on."""
    batched(
        connection,
        "INSERT INTO addresses (pid, platform, user_id, conversation_id, updated_at)"
        " SELECT * FROM batch WHERE true ON CONFLICT (pid) DO UPDATE"
        " SET platform = excluded.platform, user_id = excluded.user_id,"
        " conversation_id = excluded.conversation_id, updated_at = excluded.updated_at",
        "pid, platform, user_id, conversation_id, at",
        rows,
    )


def _first_turn_changes(connection: Connection, turns: list[TurnRecord]) -> None:
    """The rarer changes: new participants (an intermediary's session hangs off theirs
    too), new addresses, new conversations."""
    add_participants(
        connection,
        [(t.pid, t.now) for t in turns if t.new_participant]
        + [(t.assist[0], t.now) for t in turns if t.assist is not None],
    )
    put_addresses(connection, [(t.pid, *t.address, t.now) for t in turns if t.address is not None])
    starts = [t for t in turns if t.start_response]
    opened = [t for t in turns if t.opens_conversation]
    if not starts and not opened:
        return
    # Ids handed out here, so that one statement inserts them all and the conversations
    # can point at them. An anonymous response gets a random negative id instead: its id
    # must not tell when it began, nor follow the order in which people were invited or
    # took part.
    named = [t for t in starts if not t.anonymous]
    for response_id, turn in zip(next_ids(connection, "responses", len(named)), named, strict=True):
        turn.response_id = response_id
    for turn in starts:
        if turn.anonymous:
            turn.response_id = -1 - _unpredictable.getrandbits(62)
    batched(
        connection,
        "INSERT INTO responses (id, run_id, pid, status, started_at, updated_at, language,"
        " channel, assisted_by, reached_by) SELECT id, run_id, pid, 'started', at, at,"
        " language, channel, assisted_by, reached_by FROM batch",
        "id, run_id, pid, at, language, channel, assisted_by, reached_by",
        [
            (
                t.response_id,
                t.run_id,
                None if t.anonymous else t.pid,
                t.response_time,
                t.language,
                t.channel,
                *(t.assisted or (None, None)),
            )
            for t in starts
        ],
    )
    batched(
        connection,
        "UPDATE participants SET active_run = batch.run_id FROM batch"
        " WHERE participants.pid = batch.pid",
        "pid, run_id",
        [(t.pid, t.run_id) for t in opened],
    )
    batched(
        connection,
        "INSERT INTO conversations (response_id, state, finished, updated_at, pid, run_id)"
        " SELECT * FROM batch WHERE true ON CONFLICT (pid, run_id) DO UPDATE"
        " SET response_id = excluded.response_id, state = excluded.state,"
        " finished = excluded.finished, updated_at = excluded.updated_at,"
        " reminders = 0, reminded_at = NULL",
        CONVERSATION_COLUMNS,
        [_conversation_values(t) for t in opened],
    )


CONVERSATION_COLUMNS = "response_id, state, finished, at, pid, run_id"


def _conversation_values(turn: TurnRecord) -> tuple:
    finished = int(turn.finished)
    return (turn.kept_response, turn.state, finished, turn.now, turn.pid, turn.run_id)


def _queue_replies(connection: Connection, turns: list[TurnRecord]) -> dict[int, list[int]]:
    # Ids are handed out here rather than by the database so that one statement stores
    # all replies.
    fresh_ids = iter(next_ids(connection, "outbox", sum(len(t.outbox) for t in turns)))
    rows = []
    ids: dict[int, list[int]] = {}
    for turn in turns:
        ids[id(turn)] = [next(fresh_ids) for _ in turn.outbox]
        rows += [
            (outbox_id, message.platform, message.conversation_id, message.body, turn.now)
            for outbox_id, message in zip(ids[id(turn)], turn.outbox, strict=True)
        ]
    columns, values = claimed(connection)
    batched(
        connection,
        f"INSERT INTO outbox (id, platform, conversation_id, body, created_at{columns})"
        f" SELECT *{values} FROM batch",
        "id, platform, conversation_id, body, at",
        rows,
    )
    return ids


def first_delivery(connection: Connection, *, event_key: str, now: float) -> bool:
    """Note an event handled outside `record_turns`; False if it was noted before."""
    inserted = connection.execute(
        "INSERT INTO processed_events (event_id, processed_at) VALUES (?, ?)"
        " ON CONFLICT DO NOTHING",
        (event_key, now),
    )
    return inserted.rowcount == 1


def forget_sent(connection: Connection, *, outbox_ids: list[int]) -> None:
    """Delivered replies leave the outbox."""
    batched(
        connection,
        "DELETE FROM outbox WHERE id IN (SELECT id FROM batch)",
        "id",
        [(outbox_id,) for outbox_id in outbox_ids],
    )


def batched(connection: Connection, statement: str, columns: str, rows: list[tuple]) -> list[tuple]:
    """Run `statement` over `rows`, which it reads as the table `batch(columns)`; the rows
    it returns, if any. On SQLite the rows go in VALUES lists, in chunks whose sizes are
    powers of two (13 = 8 + 4 + 1), so that a handful of statement texts recur and stay
    prepared in the connection's cache, instead of a new text, prepared and cached, for
    every size of batch. PostgreSQL takes them all at once, as one JSON parameter."""
    found: list[tuple] = []
    if not rows:
        return found
    if is_postgres(connection):
        # A LIMIT of the batch's size tells the planner that the batch is small (it takes
        # any function's rows to be 100): it then probes the tables' indexes for each row
        # rather than hashing all of a table's (measured: a tenth of a millisecond a
        # statement against half of one, with a few thousand participants).
        cursor = connection.execute(
            f"WITH batch AS (SELECT * FROM {as_records(columns)} LIMIT ?) {statement}",
            (records(columns, rows), len(rows)),
        )
        # asked of the statement, not the cursor: in a pipeline its result is not in yet
        returns_rows = statement.startswith("SELECT") or " RETURNING " in statement
        return cursor.fetchall() if returns_rows else found
    width = len(rows[0])
    most = min(MAX_ROWS, connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // width)
    first = 0
    while first < len(rows):
        size = min(1 << ((len(rows) - first).bit_length() - 1), most)
        chunk = rows[first : first + size]
        first += size
        cursor = connection.execute(
            _with_values(statement, columns, width, size),
            chunk[0] if size == 1 else [value for row in chunk for value in row],
        )
        if cursor.description is not None:
            found += cursor.fetchall()
    return found


@lru_cache(maxsize=512)
def _with_values(statement: str, columns: str, width: int, size: int) -> str:
    """The statement reading `size` rows of `width` values as `batch(columns)`: made once
    (a point read goes through here at every turn)."""
    row = f"({','.join('?' * width)})"
    return f"WITH batch({columns}) AS (VALUES {','.join([row] * size)}) {statement}"
