"""The PostgreSQL backend of the storage contract (storage/contract.py, in
storage/sql_store.py), for services with more than one worker or machine.

Every call runs the shared statements of storage/: writes through the group-commit
writer process, as on SQLite (storage/writer.py), reads and scans on connections of
a pool, in a few threads. Other workers change the same rows, so nothing is cached:
each turn reads its participant's conversation from the database, in one statement
with the other turns starting meanwhile, and so with its other point reads
(storage/reads_together.py).

`storage.url` names the database; its password never goes in the URL (the URL sits
in a configuration file) but in the environment variable PASSWORD_VARIABLE, or in a
systemd credential of that name.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import partial
from typing import Any, TypeVar

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool

from storage import web_messages
from storage.outbox import release_claims
from storage.postgres_connection import (
    SETTINGS_VARIABLE,
    PgConnection,
    configure,
    new_worker_name,
)
from storage.postgres_notices import listen
from storage.postgres_schema import migrate
from storage.pseudonyms import KEY_VARIABLE, Pseudonyms
from storage.reads_together import ManyRead, ReadsTogether
from storage.recent import RecentConversations
from storage.records import Loaded, StorageUnusable
from storage.sql_store import SqlStore
from storage.turns import load_many
from storage.workers import serve_surveys
from storage.writer import GroupCommitWriter

log = logging.getLogger(__name__)
T = TypeVar("T")

PASSWORD_VARIABLE = "CIVICBOT_DATABASE_PASSWORD"
CONNECT_SECONDS = 10  # a server that does not answer by then is named as unreachable
READERS = 4  # connections for reads and scans, beside the writer's
# The advisory lock the leading worker holds for as long as its session lives.
LEADER_LOCK = 0x63697669_6C656164  # "civilead"
# The leader's session ends this soon after its host stops answering, freeing the lock:
# the server checks the idle connection after 10 s, then every 5 s, 3 times.
KEEPALIVE = {
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
}
SERVER_KEEPALIVE = (
    "SET tcp_keepalives_idle = 10; SET tcp_keepalives_interval = 5; SET tcp_keepalives_count = 3"
)
# Tables that hold what people said or where they are: vacuumed after erasures and
# purges, so that their dead rows' space is reused (see docs/scaling.md for the rest).
PERSONAL_TABLES = (
    "answers, responses, conversations, addresses, participants, outbox, reply_threads, reviews"
)


class DatabaseUnavailable(StorageUnusable):
    """The database named by storage.url cannot be used; the message says why."""


def unusable(error: psycopg.Error, setting: str = "storage.url") -> DatabaseUnavailable:
    """The server's reason, on one line, naming the setting that led to it."""
    reason = " ".join(line.strip() for line in str(error).splitlines() if line.strip())
    return DatabaseUnavailable(f"cannot use the database of {setting}: {reason}")


@contextmanager
def connected(
    url: str, environ: Mapping[str, str], *, setting: str = "storage.url"
) -> Iterator[psycopg.Connection]:
    """A connection for one piece of work (migrating, copying); a server that cannot be
    reached, or goes away meanwhile, is one `DatabaseUnavailable` naming `setting`."""
    try:
        with psycopg.connect(url, **connection_settings(url, environ)) as connection:
            yield connection
    except psycopg.OperationalError as error:
        raise unusable(error, setting) from None


def connection_settings(url: str, environ: Mapping[str, str]) -> dict[str, Any]:
    """The connection's keyword arguments: the URL's, with the password from the environment."""
    try:
        parts = conninfo_to_dict(url)
    except psycopg.ProgrammingError as error:
        raise DatabaseUnavailable(f"storage.url is not a PostgreSQL URL: {error}") from None
    if "password" in parts:
        raise DatabaseUnavailable(
            f"storage.url holds a password: leave it out and give it in {PASSWORD_VARIABLE}"
        )
    settings: dict[str, Any] = {"connect_timeout": CONNECT_SECONDS, "autocommit": True}
    if environ.get(PASSWORD_VARIABLE):
        settings["password"] = environ[PASSWORD_VARIABLE]
    return settings


class PostgresStore(SqlStore):
    """The storage contract on PostgreSQL."""

    def __init__(
        self,
        pool: ConnectionPool,
        writer: GroupCommitWriter,
        pseudonyms: Pseudonyms,
        connect: Callable[[], psycopg.Connection],
    ) -> None:
        self._pool = pool
        self._connect = connect
        self._leading: psycopg.Connection | None = None  # holds LEADER_LOCK while we lead
        self._leadership = ThreadPoolExecutor(max_workers=1, thread_name_prefix="postgres-lead")
        self.writer = writer
        self._pseudonyms = pseudonyms
        self._recent = RecentConversations(capacity=0)  # other workers write too
        self._readers = ThreadPoolExecutor(max_workers=READERS, thread_name_prefix="postgres-read")
        self._together = ReadsTogether(self._scan)
        self._closed = False

    @classmethod
    def open(cls, url: str, *, environ: Mapping[str, str]) -> PostgresStore:
        """Connect, migrate (once, whichever worker comes first) and start the writer.
        Call from a running loop."""
        settings = connection_settings(url, environ)
        if not environ.get(KEY_VARIABLE):
            # every worker must derive the same ids: a key file beside one would not do
            raise DatabaseUnavailable(
                f"on PostgreSQL the pseudonym key comes from {KEY_VARIABLE}, the same for"
                " every worker"
            )
        with connected(url, environ) as connection:
            migrate(connection)
        settings["application_name"] = new_worker_name()
        pool = ConnectionPool(
            url,
            kwargs=settings,
            configure=configure,
            min_size=1,
            max_size=READERS + 1,
            open=False,
            name="civicbot",
        )
        pool.open(wait=True, timeout=CONNECT_SECONDS)
        writer = GroupCommitWriter(url, environ={SETTINGS_VARIABLE: json.dumps(settings)})
        writer.start()
        return cls(
            pool,
            writer,
            Pseudonyms(environ[KEY_VARIABLE].encode()),
            partial(psycopg.connect, url, **settings, **KEEPALIVE),
        )

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        # what this worker was sending and did not, another may send now: as after a restart
        try:
            await self.writer.write(release_claims)
        except Exception as error:  # the claims then run out by themselves, in two minutes
            log.warning("could not give back this worker's claims on replies: %s", error)
        await self.writer.close()
        self._readers.shutdown(wait=True)
        await asyncio.get_running_loop().run_in_executor(self._leadership, self._step_down)
        self._leadership.shutdown(wait=True)
        self._pool.close()

    async def load(self, pid: str) -> Loaded:
        return await self._together.read(load_many, pid)

    async def _read_together(self, many: ManyRead, key: Any) -> Any:
        return await self._together.read(many, key)

    async def serve_surveys(self, surveys: dict[str, str], *, now: float) -> dict[str, str] | None:
        return await self.writer.write(partial(serve_surveys, surveys=surveys, now=now))

    async def watch_web_messages(self, heard: Callable[[str], None]) -> None:
        await listen(self._connect, web_messages.CHANNEL, heard)

    async def lead(self) -> bool:
        return await asyncio.get_running_loop().run_in_executor(self._leadership, self._lead)

    def _lead(self) -> bool:
        """Keep the lock if we hold it and our session still lives; else try to take it."""
        if self._leading is not None:
            try:
                self._leading.execute("SELECT 1")
                return True
            except psycopg.Error:  # our session ended, and the lock with it
                log.warning("this worker's session as leader ended; it no longer leads")
                self._step_down()
        try:
            connection = self._connect()
        except psycopg.Error as error:
            log.warning("cannot ask whether this worker may lead: %s", error)
            return False
        try:
            connection.execute(SERVER_KEEPALIVE)
            if connection.execute("SELECT pg_try_advisory_lock(%s)", (LEADER_LOCK,)).fetchone()[0]:
                self._leading = connection
                log.info("this worker leads: it runs the scheduled work")
                return True
        except psycopg.Error as error:
            log.warning("cannot ask whether this worker may lead: %s", error)
        connection.close()
        return False

    def _step_down(self) -> None:
        if self._leading is not None:
            self._leading.close()  # the session ends: the lock is free for another worker
            self._leading = None

    async def _read(self, query: Callable[..., T], *arguments: Any, **named: Any) -> T:
        return await self._scan(lambda connection: query(connection, *arguments, **named))

    async def _scan(self, query: Callable[[PgConnection], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(
            self._readers, self._on_connection, query
        )

    async def _compact(self) -> None:
        await self._scan(_vacuum)

    def _on_connection(self, query: Callable[[PgConnection], T]) -> T:
        try:
            with self._pool.connection() as connection:
                return query(PgConnection(connection))
        except psycopg.OperationalError:  # e.g. the server restarted: the pool drops that
            # connection, and a read is safe to try again (a write is not: it may be done)
            with self._pool.connection() as connection:
                return query(PgConnection(connection))


def _vacuum(connection: PgConnection) -> None:
    connection.execute(f"VACUUM {PERSONAL_TABLES}")
