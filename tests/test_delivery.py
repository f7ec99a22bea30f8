"""Nothing is acknowledged that is not stored: when the database writer dies holding the
turns of many people at once, the web chat answers those messages 503, the page sends
them again, and every message ends up stored and answered once."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from writer_faults import killed_holding

from adapters.web import WebAdapter
from bot.app import Runtime, running
from storage.database import BUSY_TIMEOUT_MS

PEOPLE = 120


@pytest.fixture
async def site(tmp_path: Path, survey_folder: Path) -> AsyncIterator[Runtime]:
    async with running(
        database=tmp_path / "civicbot.db",
        survey_folder=survey_folder,
        adapters=[lambda handler: WebAdapter(handler, port=0, address_limit=(10_000, 1_000))],
        environ={"CIVICBOT_PSEUDONYM_KEY": "k"},
    ) as runtime:
        yield runtime


async def a_person(base: str) -> aiohttp.ClientSession:
    session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    await session.get(base)  # the page sets the session cookie
    return session


async def send(session: aiohttp.ClientSession, base: str, text: str, event_id: str) -> int:
    body = {"text": text, "action": None, "id": event_id}
    async with session.post(f"{base}api/messages", json=body) as response:
        if response.status == 503:
            assert response.headers["Retry-After"]
        return response.status


async def test_messages_held_by_a_writer_that_dies_are_refused_then_stored_when_sent_again(
    site: Runtime, tmp_path: Path
) -> None:
    base = f"http://127.0.0.1:{site.adapters[0].port}/"
    people = [await a_person(base) for _ in range(PEOPLE)]
    try:
        async with killed_holding(site.store.writer, PEOPLE):
            sending = [
                asyncio.ensure_future(send(p, base, "library", f"first-{n:04d}"))
                for n, p in enumerate(people)
            ]
        statuses = await asyncio.gather(*sending)
        assert statuses.count(503) == PEOPLE  # none of them was acknowledged
        # the page sends each again, with the same id
        again = await asyncio.gather(
            *(send(p, base, "library", f"first-{n:04d}") for n, p in enumerate(people))
        )
        assert again == [202] * PEOPLE
        replies = await asyncio.gather(
            *(p.get(f"{base}api/messages?after=0&wait=0") for p in people)
        )
        for reply in replies:
            messages = (await reply.json())["messages"]
            assert [m["text"].split("\n")[0] for m in messages] == ["City library feedback"]
    finally:
        for person in people:
            await person.close()
    with sqlite3.connect(tmp_path / "civicbot.db") as connection:
        (events,) = connection.execute("SELECT count(*) FROM processed_events").fetchone()
        (responses,) = connection.execute("SELECT count(*) FROM responses").fetchone()
    assert (events, responses) == (PEOPLE, PEOPLE)


async def test_a_message_sent_while_another_process_holds_the_database_is_stored_after(
    site: Runtime, tmp_path: Path
) -> None:
    base = f"http://127.0.0.1:{site.adapters[0].port}/"
    person = await a_person(base)
    holder = sqlite3.connect(tmp_path / "civicbot.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # e.g. a maintenance script, longer than the busy timeout
    try:
        sending = asyncio.ensure_future(send(person, base, "library", "held-00001"))
        await asyncio.sleep(BUSY_TIMEOUT_MS / 1000 + 1.5)  # the lock is held this long on purpose
        assert not sending.done()  # not refused, not acknowledged: waiting for the lock
        holder.execute("ROLLBACK")
        assert await sending == 202
        reply = await person.get(f"{base}api/messages?after=0&wait=0")
        messages = (await reply.json())["messages"]
        assert messages[0]["text"].startswith("City library feedback")
    finally:
        holder.close()
        await person.close()
