"""Three civicbot processes on one PostgreSQL database, fed Slack's signed HTTP events
in turn as a load balancer would, one of them SIGKILLed in the middle and started again.
Every person's conversation reaches its end in order, with each reply posted once, and
the database holds every answer once."""

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
PEOPLE = 200
SCRIPT = ["library", "yes", "1", "1, 3", "4", "Longer opening hours please", "2"]


class Worker:
    """`civicbot run`'s core with the Slack adapter, in a process of its own."""

    def __init__(self, url: str, api: SlackWebApi, environ: dict[str, str], log: Path) -> None:
        self._url, self._api, self._environ, self._log = url, api, environ, log
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.events = f"http://127.0.0.1:{self.port}/slack/events"
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

    async def person(number: int, session: aiohttp.ClientSession) -> None:
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
    for number in range(PEOPLE):
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
