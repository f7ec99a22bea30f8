"""The database writer's process: it runs batches of writes and commits them.

The bot's process sends writes (pickled: each is a module-level function or a
`functools.partial` of one, or an item for a batch function) on this process's
stdin whenever it has some, in messages of any size. Everything that arrived while
a commit was in progress goes into the next transaction: that is where group commit
happens. After each commit, one message on stdout holds one outcome per write, in
the order they came. The end of stdin (the bot stopped or died) ends this process.

Why a process of its own: executing statements is Python and SQLite work that would
otherwise take a third of the bot's one core, and a thread cannot take it off that
core, because every statement hands the GIL back and forth with the event loop
(measured: slower than doing it all in the loop's thread).
"""

from __future__ import annotations

import logging
import os
import pickle
import select
import signal
import sqlite3
import sys
import time
from collections.abc import Callable
from typing import Any

from storage.database import connect


def connect_postgres(url: str) -> Any:
    """PostgreSQL's writer connection, with what the bot's process put in our environment."""
    from storage.postgres_connection import connect_writer

    return connect_writer(url, os.environ)


log = logging.getLogger(__name__)

# writes many items of one kind; returns one result per item, in order
BatchWrite = Callable[[sqlite3.Connection, list[Any]], list[Any]]
# (batch function, or None for a plain write; the item, or the write)
Write = tuple[BatchWrite | None, Any]

HEADER_BYTES = 4  # each message: its length, big-endian, then the pickle
COUNT_BYTES = 4  # messages of writes also say how many they hold, after the length
MAX_BATCH = 2_000  # writes in one transaction, at most
READ_BYTES = 1 << 16  # what a pipe holds on Linux: one read never returns more


def encode(value: Any) -> bytes:
    """A message: the pickle's length, then the pickle."""
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    return len(data).to_bytes(HEADER_BYTES, "big") + data


def encode_writes(writes: list[Write]) -> bytes:
    """A message of writes: the pickle's length, how many writes, then the pickle. The
    count lets writes that cannot be unpickled here each fail, instead of this process."""
    data = pickle.dumps(writes, protocol=pickle.HIGHEST_PROTOCOL)
    return len(data).to_bytes(HEADER_BYTES, "big") + len(writes).to_bytes(COUNT_BYTES, "big") + data


def decode(data: bytes | bytearray) -> Any:
    """A message's value, from the bytes after its header."""
    return pickle.loads(data)


class Inbox:
    """The writes arriving on a pipe, taken in batches of all that has arrived."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._buffer = bytearray()
        self._writes: list[Write] = []  # arrived, not yet taken

    def batch(self) -> list[Write] | None:
        """The writes that have arrived, waiting for one if there is none yet; None at
        the end of the input."""
        while True:
            self._take_messages()
            if self._writes and (len(self._writes) >= MAX_BATCH or not self._more_arrived()):
                break
            data = os.read(self._fd, READ_BYTES)
            if not data:
                break
            self._buffer += data
        if not self._writes:
            return None
        batch, self._writes = self._writes[:MAX_BATCH], self._writes[MAX_BATCH:]
        return batch

    def _take_messages(self) -> None:
        buffer, start, headers = self._buffer, 0, HEADER_BYTES + COUNT_BYTES
        while len(buffer) - start >= headers:
            end = start + headers + int.from_bytes(buffer[start : start + HEADER_BYTES], "big")
            if len(buffer) < end:
                break
            try:
                self._writes.extend(decode(buffer[start + headers : end]))
            except Exception as error:  # e.g. a function from the bot's __main__
                count = int.from_bytes(buffer[start + HEADER_BYTES : start + headers], "big")
                self._writes.extend([(None, _Unloadable(error))] * count)
            start = end
        del buffer[:start]

    def _more_arrived(self) -> bool:
        return bool(select.select([self._fd], [], [], 0)[0])


# Seconds to wait before trying a batch again while another process holds the lock, on
# top of the busy timeout each try waits: about half a minute in all before writes fail.
LOCKED_PAUSES = (1.0, 2.0, 4.0)


class _Unloadable:
    """Stands for the writes of a message that could not be unpickled: each fails."""

    def __init__(self, error: Exception) -> None:
        self._error = error

    def __call__(self, connection: sqlite3.Connection) -> None:
        raise TypeError(f"a write the writer process cannot load: {self._error!r}")


def commit(connection: sqlite3.Connection, batch: list[Write]) -> list[Any]:
    """Run the batch's writes in one transaction and commit it: one outcome per write,
    a result or the exception it raised. If any write raises, the transaction is rolled
    back and the batch runs again with each write in its own savepoint, so one failing
    write fails alone. While another process holds the database's write lock past the
    busy timeout, the batch is tried again after a pause (LOCKED_PAUSES) before its writes
    fail. If the commit itself fails, every write gets its error."""
    for pause in (*LOCKED_PAUSES, None):
        try:
            try:
                outcomes = _statements(connection, batch, careful=False)
            except _WriteFailed:
                outcomes = _statements(connection, batch, careful=True)
            connection.execute("COMMIT")
            return outcomes
        except Exception as error:  # nothing in the batch is stored
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            if pause is not None and _locked(error):
                log.warning("another process holds the database; writing again in %g s", pause)
                time.sleep(pause)
                continue
            log.exception("a batch of %d writes failed to commit", len(batch))
            return [error] * len(batch)
    return []  # not reached: the last pause is None, so the last failure returns above


def _locked(error: Exception) -> bool:
    return isinstance(error, sqlite3.OperationalError) and "locked" in str(error)


def _statements(connection: sqlite3.Connection, batch: list[Write], *, careful: bool) -> list[Any]:
    outcomes: list[Any] = []
    connection.execute("BEGIN IMMEDIATE")
    try:
        for batch_write, group in _groups(batch, careful=careful):
            if careful:
                connection.execute("SAVEPOINT one_write")
            try:
                if batch_write is None:
                    outcomes.append(group[0](connection))
                else:
                    outcomes.extend(batch_write(connection, group))
            except Exception as error:
                if not careful:
                    raise _WriteFailed from error
                connection.execute("ROLLBACK TO one_write")
                outcomes.append(error)
            if careful:
                connection.execute("RELEASE one_write")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    return outcomes


class _WriteFailed(Exception):
    """A write raised: the batch is rolled back and retried one write at a time."""


def _groups(batch: list[Write], *, careful: bool) -> list[tuple[BatchWrite | None, list[Any]]]:
    """Consecutive items of the same batch function go together, in submission order."""
    groups: list[tuple[BatchWrite | None, list[Any]]] = []
    for batch_write, work in batch:
        if not careful and batch_write is not None and groups and groups[-1][0] is batch_write:
            groups[-1][1].append(work)
        else:
            groups.append((batch_write, [work]))
    return groups


def _sendable(outcomes: list[Any]) -> bytes:
    """The outcomes as a message; one that cannot be pickled is sent as an error saying so."""
    try:
        return encode(outcomes)
    except Exception:
        return encode([_alone(outcome) for outcome in outcomes])


def _alone(outcome: Any) -> Any:
    try:
        pickle.dumps(outcome)
    except Exception as error:
        return TypeError(f"a write's result that cannot be sent back: {error}")
    return outcome


def nothing(connection: sqlite3.Connection) -> None:
    """A write that changes nothing: its commit says that everything before it committed."""


def connect_sqlite(path: str) -> sqlite3.Connection:
    """The one connection that writes. A large wave inserts at random places (pids are
    hashes) all over big indexes: a cache that holds them, and a checkpoint every 40 MB
    of log rather than every 4 MB, so that a page written again and again is copied
    into the file once (100,000 invitations: 9.6 s against 10.4 s)."""
    connection = connect(path)
    connection.execute("PRAGMA cache_size=-65536")  # KiB: grown to as pages are used
    connection.execute("PRAGMA wal_autocheckpoint=10000")  # pages
    return connection


def main() -> None:
    # Its life follows its input: Ctrl-C in a terminal, or a service manager's SIGTERM
    # to the whole group, reaches this process too, but the bot still has writes to
    # hand over while it shuts down, and closes the pipe when it is done.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    connection = (
        connect_postgres(sys.argv[1]) if "://" in sys.argv[1] else connect_sqlite(sys.argv[1])
    )
    try:
        inbox = Inbox(sys.stdin.fileno())
        while (batch := inbox.batch()) is not None:
            sys.stdout.buffer.write(_sendable(commit(connection, batch)))
            sys.stdout.buffer.flush()
    except BrokenPipeError:
        pass  # the bot is gone; what was committed stays, and its replies wait in the outbox
    finally:
        connection.close()


if __name__ == "__main__":
    main()
