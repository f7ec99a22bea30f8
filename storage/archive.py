"""Everything civicbot keeps, in one archive, and back: the database (SQLite's online
backup, so the bot may be running), its pseudonym key, and the Matrix crypto store and
sync checkpoint that must travel with it (docs/matrix.md), with a manifest of sizes
and SHA-256 checksums. A restore checks every checksum before it touches anything,
refuses while a civicbot runs on the database, and moves what was there aside
instead of deleting it.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import json
import os
import shutil
import sqlite3
import tarfile
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from storage.backup import back_up, moment
from storage.contract import BackupError
from storage.database import COMPANIONS, PRIVATE
from storage.migrations import applied_version
from storage.pseudonyms import key_file

MANIFEST = "manifest.json"
# What lives beside the database and goes with it; the database's own name is the
# archive's "civicbot.db", whatever it is called where it came from.
CRYPTO_STORE = "matrix-crypto"
CHECKPOINT = "matrix-sync-checkpoint"
DATABASE = "civicbot.db"


@dataclass(frozen=True, slots=True)
class Archived:
    path: Path
    files: int
    size: int  # bytes, before compression


def running_lock(database: Path) -> Path:
    """The file a running civicbot holds locked (civicbot run), so that nothing restores
    over it."""
    return database.with_name(database.name + ".running")


def hold_running_lock(database: Path) -> int:
    """Lock the database for a running civicbot; the descriptor, held until exit."""
    descriptor = os.open(running_lock(database), os.O_RDWR | os.O_CREAT, PRIVATE)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(descriptor)
        raise BackupError(f"{database}: another civicbot is running on this database") from None
    return descriptor


def archive(database: Path, destination: Path) -> Archived:
    """Write the archive (gzip-compressed tar) at `destination`, a new file."""
    if destination.exists():
        raise BackupError(f"{destination} exists already; a backup never overwrites a file")
    if not database.is_file():
        raise BackupError(f"{database}: there is no database here to back up")
    with tempfile.TemporaryDirectory(dir=destination.parent, prefix=".civicbot-backup-") as work:
        staged = Path(work)
        back_up(database, staged / DATABASE)  # with the key file, as civicbot.db.key
        beside = database.parent
        if (beside / CRYPTO_STORE).is_dir():
            _copy_store(beside / CRYPTO_STORE, staged / CRYPTO_STORE)
        if (beside / CHECKPOINT).is_file():
            shutil.copyfile(beside / CHECKPOINT, staged / CHECKPOINT)
        files = sorted(p for p in staged.rglob("*") if p.is_file())
        manifest = {
            "made_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "schema_version": _version(staged / DATABASE),
            "files": {str(p.relative_to(staged)): _described(p) for p in files},
        }
        partial = destination.with_name(destination.name + ".partial")
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE)
        with os.fdopen(descriptor, "wb") as out, tarfile.open(fileobj=out, mode="w:gz") as tar:
            _add_bytes(tar, MANIFEST, json.dumps(manifest, indent=2).encode())
            for path in files:
                tar.add(path, arcname=str(path.relative_to(staged)), recursive=False)
        os.replace(partial, destination)
    return Archived(destination, len(files), sum(f["size"] for f in manifest["files"].values()))


def restore(source: Path, database: Path) -> list[Path]:
    """Put an archive's files in place of `database` and what lives beside it; what was
    there is moved aside (returned), never deleted."""
    database.parent.mkdir(parents=True, exist_ok=True)
    try:
        tar = tarfile.open(source, mode="r:*")  # noqa: SIM115 - closed by the with below
    except (OSError, tarfile.TarError) as error:
        raise BackupError(f"{source}: not a civicbot backup archive ({error})") from None
    with tar, tempfile.TemporaryDirectory(dir=database.parent, prefix=".civicbot-restore-") as work:
        staged = Path(work)
        try:
            manifest = json.loads(tar.extractfile(MANIFEST).read())  # type: ignore[union-attr]
            tar.extractall(staged, filter="data")  # no absolute paths, links or devices
        except (KeyError, AttributeError, ValueError, tarfile.TarError) as error:
            raise BackupError(f"{source}: not a civicbot backup archive ({error})") from None
        for name, described in manifest["files"].items():
            found = staged / name
            if not found.is_file() or _described(found) != described:
                raise BackupError(f"{source}: {name} does not match its checksum; nothing restored")
        lock = hold_running_lock(database)  # refuses while civicbot runs on it
        try:
            return _put_in_place(staged, database)
        finally:
            os.close(lock)


def _put_in_place(staged: Path, database: Path) -> list[Path]:
    now = moment()
    beside = database.parent
    targets = {
        DATABASE: database,
        key_file(staged / DATABASE).name: key_file(database),
        CRYPTO_STORE: beside / CRYPTO_STORE,
        CHECKPOINT: beside / CHECKPOINT,
    }
    moved = []
    # the old database's -wal and -shm would be read as the restored one's
    stale = [database.with_name(database.name + suffix) for suffix in COMPANIONS if suffix]
    for current in [*targets.values(), *stale]:
        if current.exists():
            aside = current.with_name(f"{current.name}.before-restore.{now}")
            os.replace(current, aside)
            moved.append(aside)
    for name, target in targets.items():
        if (staged / name).exists():
            os.replace(staged / name, target)
    return moved


def _copy_store(source: Path, target: Path) -> None:
    """The crypto store, its SQLite files by online backup (nio may be writing them)."""
    target.mkdir(mode=0o700)
    for path in source.iterdir():
        if path.name.endswith(("-wal", "-shm", "-journal")) or not path.is_file():
            continue
        if path.suffix == ".db":
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as read:
                copy = sqlite3.connect(target / path.name)
                read.backup(copy)
                copy.close()
        else:
            shutil.copyfile(path, target / path.name)


def _described(path: Path) -> dict[str, object]:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return {"size": path.stat().st_size, "sha256": digest.hexdigest()}


def _version(database: Path) -> int:
    connection = sqlite3.connect(database)
    try:
        return applied_version(connection)
    finally:
        connection.close()


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o600
    tar.addfile(info, io.BytesIO(data))
