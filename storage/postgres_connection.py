"""A psycopg connection that takes the calls the storage modules make of sqlite3's.

The statements are written once for both engines (storage/dialect.py); what this
changes is only their spelling: `?` placeholders become psycopg's `%s`, a literal `%`
is doubled, SQLite's planner hints (`INDEXED BY`) go, and the two ways the modules
begin a transaction keep their meaning. Numbers that SQLite gives as int or float
(sums, averages) come back as int or float here too, not as Decimal.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from functools import lru_cache
from typing import Any

import psycopg
from psycopg.adapt import Loader
from psycopg.pq import TransactionStatus

_SAME_MEANING = {
    # The writer's transaction: PostgreSQL locks rows as they are written instead.
    "BEGIN IMMEDIATE": "BEGIN",
    # A reader's: SQLite's deferred transaction reads one snapshot throughout.
    "BEGIN": "BEGIN ISOLATION LEVEL REPEATABLE READ",
}
_PLANNER_HINT = re.compile(r"\s+INDEXED BY \w+")


@lru_cache(maxsize=512)
def spelt(statement: str) -> str:
    """The statement as psycopg takes it."""
    if statement in _SAME_MEANING:
        return _SAME_MEANING[statement]
    return _PLANNER_HINT.sub("", statement).replace("%", "%%").replace("?", "%s")


class NumberLoader(Loader):
    """numeric as SQLite would give it: an int when whole, else a float."""

    def load(self, data: Any) -> int | float:
        number = Decimal(bytes(data).decode())
        return int(number) if number == number.to_integral_value() else float(number)


def new_worker_name() -> str:
    """A worker among the others, as its connections' application_name: what its claims on
    the outbox are made in the name of, and what operators see in pg_stat_activity."""
    return f"civicbot {socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def configure(connection: psycopg.Connection) -> None:
    """For each new connection."""
    connection.adapters.register_loader("numeric", NumberLoader)


# How the bot's process tells its writer process what to connect with (JSON: connect's
# keywords, its worker's name and the password among them).
SETTINGS_VARIABLE = "CIVICBOT_DATABASE_SETTINGS"


def connect_writer(url: str, environ: Mapping[str, str]) -> PgConnection:
    connection = psycopg.connect(url, **json.loads(environ[SETTINGS_VARIABLE]))
    configure(connection)
    return PgConnection(connection)


class PgConnection:
    def __init__(self, connection: psycopg.Connection) -> None:
        self.raw = connection

    def close(self) -> None:
        self.raw.close()

    def execute(self, statement: str, parameters: Sequence[Any] = ()) -> psycopg.Cursor:
        return self.raw.execute(spelt(statement), parameters)

    def executemany(self, statement: str, rows: Iterable[Sequence[Any]]) -> None:
        with self.raw.cursor() as cursor:
            cursor.executemany(spelt(statement), rows)

    def pipeline(self) -> psycopg.Pipeline:
        """Statements sent without waiting for each result: a round trip is taken only
        where a result is read. A cursor's rowcount is not known until then."""
        return self.raw.pipeline()

    @property
    def in_transaction(self) -> bool:
        return self.raw.info.transaction_status != TransactionStatus.IDLE
