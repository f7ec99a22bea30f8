"""Opening the SQLite file with the settings every connection needs."""

from __future__ import annotations

import logging
import os
import sqlite3
from pathlib import Path

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 5_000
PRIVATE = 0o600  # answers and addresses are personal data: the owner reads them, nobody else
COMPANIONS = ("", "-wal", "-shm")  # the database and the files SQLite keeps beside it


def connect(path: Path | str) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), WAL, fsync on every
    commit, to a file only its owner can read."""
    new = not Path(path).exists() or Path(path).stat().st_size == 0
    keep_private(Path(path))
    connection = sqlite3.connect(
        str(path), isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000
    )
    if new:  # before WAL, or the file would not take it; an older one `migrate` converts
        # Free pages can then leave the file (retention and erasure compact it). Only a new
        # file: on one in use the pragma waits for the lock another process may hold.
        connection.execute("PRAGMA auto_vacuum=INCREMENTAL")
    connection.execute("PRAGMA journal_mode=WAL")
    # FULL: a commit that returned survives power loss, which is what lets us reply after it.
    connection.execute("PRAGMA synchronous=FULL")
    connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    connection.execute("PRAGMA foreign_keys=ON")
    # Deleted rows are overwritten with zeros, so erased answers do not linger in free space.
    connection.execute("PRAGMA secure_delete=ON")
    return connection


def keep_private(path: Path) -> None:
    """Create the database file readable by its owner only, and make older files so; SQLite
    gives its -wal and -shm files the database file's permissions."""
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, PRIVATE))
    for suffix in COMPANIONS:
        companion = path.with_name(path.name + suffix)
        try:
            if companion.stat().st_mode & 0o077:
                os.chmod(companion, PRIVATE)
        except FileNotFoundError:
            pass
        except PermissionError:
            log.warning("%s is readable by others and cannot be made private", companion)


def compact(connection: sqlite3.Connection) -> None:
    """Give free pages back and empty the WAL, so deleted data leaves the files on disk.
    Outside any transaction; waits for the writer like any write."""
    connection.execute("PRAGMA incremental_vacuum")
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
