"""A throwaway PostgreSQL server for the tests: Debian's `postgresql` package's initdb and
pg_ctl, in a temporary directory, on a free loopback port, with a password as a real
service has one. Tests that need it are skipped, with the reason, where the package is
missing; `.ci/run` installs it."""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import socket
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from storage.postgres_connection import spelt

USER = "civicbot"
PASSWORD_VARIABLE = "CIVICBOT_DATABASE_PASSWORD"


def _binaries() -> Path | None:
    """Debian keeps them beside each other in /usr/lib/postgresql/VERSION/bin."""
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: p.parts)
    return versions[-1].parent if versions else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class PostgresServer:
    port: int
    password: str

    @property
    def environ(self) -> dict[str, str]:
        """What civicbot needs beside the URL: the password, as a service gets it."""
        return {PASSWORD_VARIABLE: self.password, "CIVICBOT_PSEUDONYM_KEY": "k"}

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """The URL of a new, empty database of its own."""
        name = f"test_{secrets.token_hex(6)}"
        with psycopg.connect(self.url(), password=self.password, autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {name}")
        return self.url(name)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    binaries = _binaries()
    if binaries is None:
        pytest.skip(
            "PostgreSQL is not installed (Debian's postgresql package; .ci/run installs it)"
        )
    # initdb refuses to run as root: as root, the server runs as the package's own user.
    as_user = "postgres" if os.geteuid() == 0 else None
    if as_user is not None:
        try:
            owner = pwd.getpwnam(as_user)
        except KeyError:
            pytest.skip("running as root, and there is no 'postgres' user to run PostgreSQL as")
    top = Path(tempfile.mkdtemp(prefix="civicbot-pg-"))
    data, password_file = top / "data", top / "password"
    password = secrets.token_urlsafe(16)
    password_file.write_text(password)
    if as_user is not None:
        os.chown(top, owner.pw_uid, owner.pw_gid)
        os.chown(password_file, owner.pw_uid, owner.pw_gid)
    server = PostgresServer(_free_port(), password)

    def run(*command: str) -> None:
        subprocess.run(command, check=True, capture_output=True, user=as_user, cwd=top)

    run(
        str(binaries / "initdb"),
        "-D",
        str(data),
        "-U",
        USER,
        "--auth=scram-sha-256",
        f"--pwfile={password_file}",
        "--no-sync",
    )
    # fsync off: these tests kill civicbot, never the server or the machine.
    options = f"-c listen_addresses=127.0.0.1 -p {server.port} -k {top} -c fsync=off"
    run(
        str(binaries / "pg_ctl"),
        "-D",
        str(data),
        "-o",
        options,
        "-l",
        str(top / "log"),
        "-w",
        "start",
    )
    try:
        yield server
    finally:
        run(str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(top, ignore_errors=True)


@dataclass
class Database:
    """Where a test's civicbot keeps its data, on one backend, and a look inside it."""

    location: Path | str
    environ: dict[str, str]
    password: str | None = None

    def rows(self, sql: str, *params: object) -> list[tuple]:
        """What a statement (with `?` placeholders) reads, in a connection of its own."""
        if isinstance(self.location, Path):
            with sqlite3.connect(self.location) as connection:
                return connection.execute(sql, params).fetchall()
        with psycopg.connect(self.location, password=self.password) as connection:
            return connection.execute(spelt(sql), params).fetchall()

    def columns(self) -> list[tuple[str, str]]:
        """(table, column) of every table civicbot made."""
        if isinstance(self.location, Path):
            tables = self.rows("SELECT name FROM sqlite_master WHERE type = 'table'")
            return [
                (table, column[1])
                for (table,) in tables
                for column in self.rows(f"PRAGMA table_info({table})")
            ]
        return self.rows(
            "SELECT table_name, column_name FROM information_schema.columns"
            " WHERE table_schema = 'public'"
        )


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Database:
    """A new database on each backend in turn (PostgreSQL's skipped where it is missing)."""
    if request.param == "sqlite":
        return Database(tmp_path / "civicbot.db", {"CIVICBOT_PSEUDONYM_KEY": "test-key"})
    server: PostgresServer = request.getfixturevalue("postgres")
    environ = {**server.environ, "CIVICBOT_PSEUDONYM_KEY": "test-key"}
    return Database(server.new_database(), environ, server.password)
