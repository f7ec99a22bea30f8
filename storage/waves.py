"""Invitation waves, queued before they are sent: `survey start … for` stores everyone
it will invite (their address, and a queue row by pseudonymous id) many to a commit,
then invites them from the queue chunk by chunk. A restart finds the queue and goes
on: nobody is invited twice (an invitation's event id is its run and person) and
nobody is left out. Addresses are kept where they always are — the one table that
erasure and address retention clear — and the queue holds only pids.
"""

from __future__ import annotations

from storage import turns
from storage.dialect import Connection

DESCRIPTION = "invitation waves queued before they are sent, resumed after a restart"


def queue(
    connection: Connection,
    *,
    run_id: int,
    people: list[tuple[str, str, str, str]],
    now: float,
) -> int:
    """Queue (pid, platform, user id, conversation id) for the run; how many are new."""
    turns.add_participants(connection, [(pid, now) for pid, *_ in people])
    turns.put_addresses(connection, [(*person, now) for person in people])
    queued = turns.batched(
        connection,
        "INSERT INTO pending_invitations (run_id, pid, queued_at) SELECT * FROM batch"
        " WHERE true ON CONFLICT DO NOTHING RETURNING pid",
        "run_id, pid, at",
        [(run_id, pid, now) for pid, *_ in people],
    )
    return len(queued)


def queued(connection: Connection, *, run_id: int, most: int) -> list[tuple[str, str, str, str]]:
    """The next `most` people queued for the run: (pid, platform, user id, conversation id).
    One whose address was deleted meanwhile (erased, or retention) is not among them."""
    return [
        tuple(row)
        for row in connection.execute(
            "SELECT q.pid, a.platform, a.user_id, a.conversation_id FROM pending_invitations q"
            " JOIN addresses a ON a.pid = q.pid WHERE q.run_id = ?"
            " ORDER BY q.queued_at, q.pid LIMIT ?",
            (run_id, most),
        )
    ]


def unqueue(connection: Connection, *, run_id: int, pids: list[str]) -> None:
    connection.executemany(
        "DELETE FROM pending_invitations WHERE run_id = ? AND pid = ?",
        [(run_id, pid) for pid in pids],
    )


def waiting_runs(connection: Connection) -> list[int]:
    """Open runs with people still queued: what a restart resumes. Queue rows of closed
    runs, and of people whose address is gone, are dropped here."""
    connection.execute(
        "DELETE FROM pending_invitations WHERE run_id IN (SELECT id FROM runs"
        " WHERE status != 'open') OR pid NOT IN (SELECT pid FROM addresses)"
        " OR -run_id IN (SELECT id FROM approvals WHERE approved_at IS NOT NULL)"
    )
    # a held wave's numbers wait under minus its approval request's number
    rows = connection.execute(
        "SELECT DISTINCT run_id FROM pending_invitations WHERE run_id > 0 ORDER BY run_id"
    )
    return [run_id for (run_id,) in rows]


# The queue is read oldest first a chunk at a time: without this the whole of a large
# wave's queue was sorted for every chunk (100,000 people: 5.7 s of 24).
QUEUE_ORDER_DESCRIPTION = "the invitation queue read in order without sorting it"
QUEUE_ORDER = """
    CREATE INDEX pending_invitations_in_order ON pending_invitations (run_id, queued_at, pid);
"""

SCHEMA = """
    CREATE TABLE pending_invitations (
        run_id BIGINT NOT NULL,
        pid TEXT NOT NULL,
        queued_at DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (run_id, pid)
    );
"""
