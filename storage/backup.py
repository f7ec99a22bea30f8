"""A consistent copy of the database, taken while the bot runs, with its pseudonym key.

SQLite's online backup copies the database as of one moment, whatever the writer is
doing; copying the file (and its -wal) by hand while the bot runs can catch a
half-written state. Without the pseudonym key the copy still holds every answer, but
returning participants would be seen as new, so the key file goes with it.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from storage.contract import BackupError
from storage.database import PRIVATE, keep_private
from storage.pseudonyms import key_file
from storage.records import Backup


def back_up(database: Path, destination: Path) -> Backup:
    """Copy `database` to `destination` (a new file, readable by its owner only), check
    the copy, and copy the pseudonym key file beside it if there is one."""
    if not database.is_file():
        raise BackupError(f"{database}: there is no database here to back up")
    key = key_file(database)
    key_copy = key_file(destination)
    for taken in (destination, key_copy):
        if taken.exists():
            raise BackupError(f"{taken} exists already; a backup never overwrites a file")
    partial = destination.with_name(destination.name + ".partial")
    try:
        keep_private(partial)  # private from its first byte
        _copy(database, partial)
        os.replace(partial, destination)  # the backup appears only once it is whole
    except (sqlite3.Error, OSError) as error:
        partial.unlink(missing_ok=True)
        raise BackupError(f"{destination}: the backup failed: {error}") from None
    if not key.is_file():
        return Backup(destination, destination.stat().st_size, None)
    shutil.copyfile(key, key_copy)
    os.chmod(key_copy, PRIVATE)
    return Backup(destination, destination.stat().st_size, key_copy)


def moment() -> str:
    """Now, as a file name may carry it: 20261201T194500Z."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def back_up_before(database: Path, version: int) -> Path:
    """A backup beside the database before migrations change it: the way back, should
    the new release need undoing. Its name says the version and the moment."""
    destination = database.with_name(f"{database.name}.v{version}.{moment()}.backup")
    return back_up(database, destination).database


def _copy(database: Path, partial: Path) -> None:
    source = sqlite3.connect(f"file:{database}?mode=ro", uri=True)  # never creates one
    target = sqlite3.connect(partial)
    try:
        source.backup(target)
        target.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        (verdict,) = target.execute("PRAGMA integrity_check").fetchone()
        if verdict != "ok":
            raise sqlite3.DatabaseError(f"the copy does not pass SQLite's check: {verdict}")
    finally:
        target.close()
        source.close()
