"""What a platform allows once per bot (Matrix's sync, Slack's Socket Mode) runs in the
worker that leads, and in another once the leader's session ends."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

import aiohttp
import pytest
from postgres_harness import Database, PostgresServer, for_workers, together

from adapters.memory import MemoryAdapter
from bot.app import Runtime
from bot.events import InboundHandler


class OncePerBot(MemoryAdapter):
    """A platform that takes one connection per bot, as Matrix's sync does."""

    once_per_bot = True

    def __init__(self, handler: InboundHandler) -> None:
        super().__init__(handler, platform="matrix")
        self.connected = False
        self._changed = asyncio.Condition()

    async def start(self) -> None:
        await self._connect(True)

    async def stop(self) -> None:
        await self._connect(False)

    async def _connect(self, connected: bool) -> None:
        async with self._changed:
            self.connected = connected
            self._changed.notify_all()

    async def until(self, connected: bool, within: float = 30.0) -> None:
        async with asyncio.timeout(within), self._changed:
            await self._changed.wait_for(lambda: self.connected is connected)


def once(worker: Runtime) -> OncePerBot:
    return next(a for a in worker.adapters if isinstance(a, OncePerBot))


def worker(database: Database, survey_folder: Path):
    return database.worker(survey_folder, [OncePerBot, MemoryAdapter], health=("127.0.0.1", 0))


@pytest.fixture
async def two_workers(
    postgres: PostgresServer, survey_folder: Path
) -> AsyncIterator[list[Runtime]]:
    database = for_workers(postgres)
    async with together(worker(database, survey_folder), worker(database, survey_folder)) as both:
        yield both


async def ready(worker: Runtime) -> tuple[int, dict]:
    url = f"http://127.0.0.1:{worker.health.port}/readyz"
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.json()


async def test_only_the_leader_connects_and_the_other_stands_by_ready(
    two_workers: list[Runtime],
) -> None:
    leader, follower = two_workers
    assert [once(leader).connected, once(follower).connected] == [True, False]
    status, body = await ready(follower)
    assert status == 200
    assert body["leader_only"] == ["matrix"]
    assert "matrix" not in body["checks"]


async def test_the_other_worker_connects_once_the_leader_is_gone(
    postgres: PostgresServer, survey_folder: Path
) -> None:
    database = for_workers(postgres)
    async with AsyncExitStack() as leading:
        leader = await leading.enter_async_context(worker(database, survey_folder))
        async with worker(database, survey_folder) as follower:
            assert [once(leader).connected, once(follower).connected] == [True, False]
            await leading.aclose()  # the leader stops, and its session with it
            await once(follower).until(connected=True)  # at its next look at who leads


async def test_replies_to_that_platform_are_sent_by_the_leader_only(
    two_workers: list[Runtime],
) -> None:
    leader, follower = two_workers
    await once(leader).push("ann", "library")
    await follower.outbox.resend_unsent()  # a follower's sweep leaves them to the leader
    assert once(follower).sent == []
    assert once(leader).sent[0].message.text.startswith("City library feedback")
