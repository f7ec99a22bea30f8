"""A throwaway PostgreSQL server: Debian's `postgresql` package's initdb and pg_ctl, in
a temporary directory, on a free loopback port, with a password as a real service has
one. For the tests (tests/postgres_harness.py) and the benchmarks (bench/postgres.py)."""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg

USER = "civicbot"
PASSWORD_VARIABLE = "CIVICBOT_DATABASE_PASSWORD"


class NoServer(Exception):
    """PostgreSQL cannot be started here; the message says why."""


@dataclass
class PostgresServer:
    port: int
    password: str
    data: Path

    @property
    def pid(self) -> int:
        """The postmaster's: its children are the server's other processes."""
        return int((self.data / "postmaster.pid").read_text().split()[0])

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


@contextmanager
def postgres_server(*, durable: bool, settings: tuple[str, ...] = ()) -> Iterator[PostgresServer]:
    """A server until the block ends. `durable`: fsync on, as in service (benchmarks);
    off where nothing kills the server or the machine (tests). `settings`: more `-c`."""
    binaries = _binaries()
    if binaries is None:
        raise NoServer(
            "PostgreSQL is not installed (Debian's postgresql package; .ci/run installs it)"
        )
    # initdb refuses to run as root: as root, the server runs as the package's own user.
    as_user = "postgres" if os.geteuid() == 0 else None
    if as_user is not None:
        try:
            owner = pwd.getpwnam(as_user)
        except KeyError:
            raise NoServer("running as root, and no 'postgres' user to run PostgreSQL as") from None
    top = Path(tempfile.mkdtemp(prefix="civicbot-pg-"))
    data, password_file = top / "data", top / "password"
    password = secrets.token_urlsafe(16)
    password_file.write_text(password)
    if as_user is not None:
        os.chown(top, owner.pw_uid, owner.pw_gid)
        os.chown(password_file, owner.pw_uid, owner.pw_gid)
    server = PostgresServer(_free_port(), password, data)

    def run(*command: str) -> None:
        subprocess.run(command, check=True, capture_output=True, user=as_user, cwd=top)

    initdb = [str(binaries / "initdb"), "-D", str(data), "-U", USER, "--auth=scram-sha-256"]
    run(*initdb, f"--pwfile={password_file}", *(() if durable else ("--no-sync",)))
    options = [f"-c listen_addresses=127.0.0.1 -p {server.port} -k {top}"]
    options += [] if durable else ["-c fsync=off"]
    options += [f"-c {setting}" for setting in settings]
    pg_ctl = str(binaries / "pg_ctl")
    run(pg_ctl, "-D", str(data), "-o", " ".join(options), "-l", str(top / "log"), "-w", "start")
    try:
        yield server
    finally:
        run(pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(top, ignore_errors=True)
