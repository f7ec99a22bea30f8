"""PostgreSQL for the tests: a server for the session (tests/postgres_server.py), and a
database of either backend to run a test on. Tests that need the server are skipped,
with the reason, where Debian's postgresql package is missing; `.ci/run` installs it."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from postgres_server import PASSWORD_VARIABLE, NoServer, PostgresServer, postgres_server

from storage.postgres_connection import spelt

__all__ = ["PASSWORD_VARIABLE", "Database", "PostgresServer"]


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    try:
        with postgres_server(durable=False) as server:
            yield server
    except NoServer as reason:
        pytest.skip(str(reason))


def for_workers(postgres: PostgresServer) -> Database:
    """A new database on the server for workers that share it (and their pseudonym key)."""
    environ = {**postgres.environ, "CIVICBOT_PSEUDONYM_KEY": "workers"}
    return Database(postgres.new_database(), environ, postgres.password)


@asynccontextmanager
async def together(*workers: AbstractAsyncContextManager) -> AsyncIterator[list]:
    """The workers started one after the other, and stopped in the reverse order."""
    async with AsyncExitStack() as stack:
        yield [await stack.enter_async_context(worker) for worker in workers]


@dataclass
class Database:
    """Where a test's civicbot keeps its data, on one backend, and a look inside it."""

    location: Path | str
    environ: dict[str, str]
    password: str | None = None

    def worker(self, survey_folder: Path, adapters: list, **options: Any):
        """civicbot running on this database with these adapters, as one worker."""
        from bot.app import running

        return running(
            database=self.location,
            survey_folder=survey_folder,
            adapters=adapters,
            environ=self.environ,
            **options,
        )

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
