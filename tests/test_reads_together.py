"""Point reads gathered into rounds (storage/reads_together.py), as PostgreSQL's store
uses them: one trip to the database for the reads of many turns."""

from __future__ import annotations

import asyncio

import pytest

from storage.reads_together import ReadsTogether


class Database:
    """Stands for the database: counts rounds, holds each until the test lets it end."""

    def __init__(self) -> None:
        self.rounds: list[dict[str, list]] = []
        self.begun: asyncio.Queue[asyncio.Event] = asyncio.Queue()  # a gate per round

    async def run(self, round_):
        gate = asyncio.Event()
        self.begun.put_nowait(gate)
        await gate.wait()
        seen: dict[str, list] = {}
        self.rounds.append(seen)
        return round_(seen)


def squares(seen, keys):
    seen["squares"] = keys
    return {key: key * key for key in keys}


def names(seen, keys):
    seen["names"] = keys
    return {key: f"n{key}" for key in keys}


def broken(seen, keys):
    raise ValueError("this kind of read fails")


async def test_reads_asked_together_go_in_one_round_with_one_statement_per_kind():
    database = Database()
    together = ReadsTogether(database.run)
    reads = [
        asyncio.ensure_future(together.read(squares, 2)),
        asyncio.ensure_future(together.read(squares, 3)),
        asyncio.ensure_future(together.read(names, 3)),
        asyncio.ensure_future(together.read(squares, 2)),  # the same key twice: read once
    ]
    (await database.begun.get()).set()
    assert await asyncio.gather(*reads) == [4, 9, "n3", 4]
    assert database.rounds == [{"squares": [2, 3], "names": [3]}]


async def test_a_read_asked_during_a_round_waits_for_the_next_one():
    database = Database()
    together = ReadsTogether(database.run)
    first = asyncio.ensure_future(together.read(squares, 2))
    first_round = await database.begun.get()
    later = asyncio.ensure_future(together.read(squares, 2))
    first_round.set()
    await first
    assert not later.done()  # the first round began before it was asked for
    (await database.begun.get()).set()
    await later
    assert len(database.rounds) == 2


async def test_a_kind_of_read_that_fails_fails_only_its_own_reads():
    database = Database()
    together = ReadsTogether(database.run)
    fails = asyncio.ensure_future(together.read(broken, 1))
    works = asyncio.ensure_future(together.read(names, 1))
    (await database.begun.get()).set()
    with pytest.raises(ValueError, match="fails"):
        await fails
    assert await works == "n1"


async def test_a_round_that_cannot_reach_the_database_fails_its_reads_and_the_next_can():
    calls = 0

    async def flaky(round_):
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("server gone")
        return round_({})

    together = ReadsTogether(flaky)
    with pytest.raises(ConnectionError):
        await together.read(names, 1)
    assert await together.read(names, 2) == "n2"
