"""The web chat behind a load balancer: a page's poll and its messages may reach any of
the workers on one PostgreSQL database, without sticky sessions."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from postgres_harness import Database, PostgresServer, for_workers, together

from adapters.web import WebAdapter
from bot.app import Runtime

SCRIPT = ["library", "yes", "1", "1, 3", "4", "Longer opening hours", "2"]


def web_worker(database: Database, survey_folder: Path):
    return database.worker(survey_folder, [lambda handler: WebAdapter(handler, port=0)])


@pytest.fixture
async def two_workers(
    postgres: PostgresServer, survey_folder: Path
) -> AsyncIterator[list[Runtime]]:
    database = for_workers(postgres)
    both = web_worker(database, survey_folder), web_worker(database, survey_folder)
    async with together(*both) as started:
        yield started


def base(worker: Runtime) -> str:
    return f"http://127.0.0.1:{worker.adapters[0].port}"


async def test_a_page_whose_messages_alternate_between_workers_gets_every_reply_once(
    two_workers: list[Runtime],
) -> None:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as page:
        await page.get(f"{base(two_workers[0])}/")  # the cookie goes to every worker
        seen: list[dict] = []
        for number, text in enumerate(SCRIPT):
            sent_to, polled_at = two_workers[number % 2], two_workers[(number + 1) % 2]
            posted = await page.post(
                f"{base(sent_to)}/api/messages", json={"text": text, "id": f"message-{number:04d}"}
            )
            assert posted.status == 202
            after = seen[-1]["seq"] if seen else 0
            polled = await page.get(f"{base(polled_at)}/api/messages?after={after}")
            seen += (await polled.json())["messages"]
    assert [m["seq"] for m in seen] == list(range(1, len(seen) + 1))  # in order, none twice
    assert seen[0]["text"].startswith("City library feedback")
    assert "Thank you" in seen[-1]["text"]


async def test_a_waiting_poll_is_woken_by_a_reply_another_worker_sent(
    two_workers: list[Runtime],
) -> None:
    first, second = two_workers
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as page:
        await page.get(f"{base(first)}/")
        waiting = asyncio.create_task(page.get(f"{base(second)}/api/messages?after=0"))
        await asyncio.sleep(0)  # the poll is on its way; the reply may come before or after
        await page.post(f"{base(first)}/api/messages", json={"text": "library", "id": "hello-001"})
        polled = await asyncio.wait_for(waiting, timeout=10)  # well before the poll's 25 s
        messages = (await polled.json())["messages"]
    assert messages[0]["text"].startswith("City library feedback")


async def test_a_worker_started_after_a_reply_was_sent_serves_it_in_its_place(
    postgres: PostgresServer, survey_folder: Path
) -> None:
    database = for_workers(postgres)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as page:
        async with web_worker(database, survey_folder) as first:
            await page.get(f"{base(first)}/")
            sent = {"text": "library", "id": "hello-002"}
            await page.post(f"{base(first)}/api/messages", json=sent)
            before = await (await page.get(f"{base(first)}/api/messages?after=0")).json()
        async with web_worker(database, survey_folder) as restarted:
            after = await (await page.get(f"{base(restarted)}/api/messages?after=0")).json()
    assert after == before  # the same numbers and epoch: the page keeps its place
    assert after["epoch"] == "shared"
