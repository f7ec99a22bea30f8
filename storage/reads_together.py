"""Point reads of many turns at once, for a backend whose reads cross a network.

A turn reads its participant, and outside a survey perhaps their open reply thread,
their survey's run for everyone, the surveys open to everyone. On PostgreSQL each
read alone is a hop to a reader thread and a round trip to the server: at thousands of
turns a second, the hops alone took a core. Reads asked for while a round is under way
go into the next round instead: one hop, and one statement per kind of read, for all of
them. A read never joins a round that began before it was asked for, so it sees at
least what was committed when it was asked.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from storage.writer import settle

# Reads many keys of one kind: (connection, keys) -> {key: value} with every key in it.
ManyRead = Callable[[Any, list[Any]], dict[Any, Any]]


class ReadsTogether:
    """Gathers point reads into rounds; `run` takes a round (a function of a connection)
    to a connection and back."""

    def __init__(self, run: Callable[[Callable[[Any], Any]], Awaitable[Any]]) -> None:
        self._run = run
        self._waiting: dict[ManyRead, dict[Any, list[asyncio.Future[Any]]]] = {}
        self._round: asyncio.Task[None] | None = None

    async def read(self, many: ManyRead, key: Any) -> Any:
        """The value of `key` as `many` reads it, read with the others of the next round."""
        future = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(many, {}).setdefault(key, []).append(future)
        if self._round is None:
            self._round = asyncio.get_running_loop().create_task(self._rounds())
        return await future

    async def _rounds(self) -> None:
        try:
            while self._waiting:
                waiting, self._waiting = self._waiting, {}
                try:
                    found = await self._run(partial(_read_all, waiting=waiting))
                except Exception as error:  # e.g. no connection: every read of the round fails
                    found = {many: error for many in waiting}
                for many, keys in waiting.items():
                    values = found[many]
                    for key, futures in keys.items():
                        value = values if isinstance(values, BaseException) else values[key]
                        for future in futures:
                            settle(future, value)
        finally:
            self._round = None


def _read_all(connection: Any, *, waiting: dict[ManyRead, dict[Any, Any]]) -> dict[ManyRead, Any]:
    """Each kind's values, or the error its statement raised (the others still count)."""
    found: dict[ManyRead, Any] = {}
    for many, keys in waiting.items():
        try:
            found[many] = many(connection, list(keys))
        except Exception as error:
            found[many] = error
    return found
