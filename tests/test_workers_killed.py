"""Three civicbot processes on one PostgreSQL database, fed Slack's signed HTTP events
and the web chat's messages and polls in turn as a load balancer would, one of them
SIGKILLed in the middle and started again. Every person's conversation reaches its end
in order, with each reply posted once, and the database holds every answer once."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import socket
import sys
from collections import Counter
from pathlib import Path

import aiohttp
from postgres_harness import Database, PostgresServer
from slack_stub import LIBRARY_REPLIES, SlackWebApi, message_event, post, signed

ROOT = Path(__file__).resolve().parent.parent
CHILD = ROOT / "tests" / "slack_child.py"
PEOPLE = 200  # the even ones on Slack, the odd ones in the web chat
SCRIPT = ["library", "yes", "1", "1, 3", "4", "Longer opening hours please", "2"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Worker:
    """`civicbot run`'s core with the Slack adapter, in a process of its own."""

    def __init__(self, url: str, api: SlackWebApi, environ: dict[str, str], log: Path) -> None:
        self._url, self._api, self._environ, self._log = url, api, environ, log
        self.port, web_port = free_port(), free_port()
        self.events = f"http://127.0.0.1:{self.port}/slack/events"
        self.web = f"http://127.0.0.1:{web_port}"
        self._environ = {**environ, "SLACK_CHILD_WEB_PORT": str(web_port)}
        self._process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with self._log.open("a") as log:
            self._process = await asyncio.create_subprocess_exec(
                sys.executable,
                str(CHILD),
                self._url,
                str(ROOT / "surveys"),
                self._api.url,
                str(self.port),
                stdout=asyncio.subprocess.PIPE,
                stderr=log,
                env={**os.environ, **self._environ},
            )
        line = await asyncio.wait_for(self._process.stdout.readline(), 60)
        assert line.startswith(b"ready"), line

    async def kill(self) -> None:
        self._process.send_signal(signal.SIGKILL)
        await self._process.wait()

    async def stop(self) -> None:
        self._process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(self._process.wait(), 60)


async def test_three_workers_one_killed_midway_lose_and_double_nothing(
    postgres: PostgresServer, tmp_path: Path
) -> None:
    url = postgres.new_database()
    api = SlackWebApi()
    await api.start()
    workers = [Worker(url, api, postgres.environ, tmp_path / f"worker{n}.log") for n in range(3)]
    for worker in workers:
        await worker.start()
    turn = itertools.count()  # the load balancer's round robin, over every delivery
    acknowledged = Counter()
    web_pages: dict[int, list[dict]] = {}

    async def web_person(number: int) -> None:
        """A page: each message and each poll to the next worker; a refused one to the next."""
        seen: list[dict] = []
        address = {"X-Forwarded-For": f"10.0.{number // 250}.{number % 250}"}  # the balancer's
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(cookie_jar=jar, headers=address) as page:
            await at_next_worker(lambda worker: page.get(f"{worker.web}/"))
            for step, text in enumerate(SCRIPT):
                sent = {"text": text, "id": f"page{number:05d}-{step}"}
                await at_next_worker(
                    lambda worker, s=sent: page.post(f"{worker.web}/api/messages", json=s)
                )
                acknowledged["messages"] += 1
                while len(seen) <= step:
                    after = seen[-1]["seq"] if seen else 0
                    polled = await at_next_worker(
                        lambda worker, a=after: page.get(f"{worker.web}/api/messages?after={a}")
                    )
                    seen += (await polled.json())["messages"]
        web_pages[number] = seen

    async def at_next_worker(request) -> aiohttp.ClientResponse:
        while True:
            try:
                response = await request(workers[next(turn) % len(workers)])
                if response.status < 500:
                    assert response.status in (200, 202), await response.text()
                    return response
            except (aiohttp.ClientError, OSError):
                pass
            acknowledged["not"] += 1
            await asyncio.sleep(0.1)

    async def person(number: int, session: aiohttp.ClientSession) -> None:
        if number % 2:
            return await web_person(number)
        user = f"U{number:05d}"
        for step, text in enumerate(SCRIPT):
            body = message_event(user, text, f"Ev{number}-{step}")
            for retry in itertools.count():  # Slack delivers again what got no 200
                worker = workers[next(turn) % len(workers)]
                headers = {**signed(body), **({"X-Slack-Retry-Num": str(retry)} if retry else {})}
                try:
                    if (await post(session, worker.events, body, headers=headers)).status == 200:
                        break
                except (aiohttp.ClientError, OSError):
                    pass
                acknowledged["not"] += 1
                await asyncio.sleep(0.1)
            acknowledged["messages"] += 1
            await api.until(lambda step=step: len(api.top_level(f"D{user}")) > step, 120)

    async def kill_one_midway() -> None:
        await api.until(lambda: acknowledged["messages"] >= PEOPLE * len(SCRIPT) // 3, 120)
        await workers[1].kill()
        await asyncio.sleep(1.0)  # deliveries meanwhile fail and go to the others
        await workers[1].start()

    try:
        async with aiohttp.ClientSession() as session:
            killing = asyncio.create_task(kill_one_midway())
            await asyncio.gather(*(person(n, session) for n in range(PEOPLE)))
            await killing
    finally:
        for worker in workers:
            await worker.stop()
        await api.stop()
    assert acknowledged["not"] > 0  # the kill refused deliveries, which went elsewhere
    for number in range(1, PEOPLE, 2):
        seen = web_pages[number]
        assert [m["seq"] for m in seen] == list(range(1, len(LIBRARY_REPLIES) + 1)), seen
        texts = [m["text"] for m in seen]
        assert all(t.startswith(first) for t, first in zip(texts, LIBRARY_REPLIES, strict=True))
        assert len({m["id"] for m in seen}) == len(seen)  # no reply twice
    for number in range(0, PEOPLE, 2):
        posted = api.top_level(f"DU{number:05d}")
        texts = [m["text"] for m in posted]
        assert len(texts) == len(LIBRARY_REPLIES), (number, texts)
        assert all(t.startswith(first) for t, first in zip(texts, LIBRARY_REPLIES, strict=True))
        outbox_ids = [m["metadata"]["event_payload"]["outbox_id"] for m in posted]
        assert len(set(outbox_ids)) == len(outbox_ids)  # none posted twice
    stored = Database(url, postgres.environ, postgres.password)
    assert stored.rows("SELECT status, count(*) FROM responses GROUP BY 1") == [
        ("completed", PEOPLE)
    ]
    assert stored.rows("SELECT count(*) FROM answers") == [(PEOPLE * 5,)]
    assert stored.rows("SELECT count(*) FROM processed_events") == [(PEOPLE * len(SCRIPT),)]
    assert stored.rows("SELECT count(*) FROM outbox") == [(0,)]
