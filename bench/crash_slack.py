"""The delivery promise under repeated SIGKILLs, on Slack: what was acknowledged is
stored, and every reply is posted exactly once.

    python bench/crash_slack.py --people 400 --kills 30 --latency 0.1

civicbot runs in its HTTP Slack mode in a child process (tests/slack_child.py), against
the loopback stand-in of Slack's Web API (tests/slack_stub.py). Each person answers the
library survey, sending their next message once they have the reply to the last, and
resending (as Slack does) whatever was not acknowledged. Meanwhile the child is killed
with SIGKILL at random moments and started again on the same database. At the end it
prints the kills, the messages sent, and the replies lost (a person whose conversation
did not reach its end in order) and doubled (an outbox id posted twice), read from what
the stand-in holds; and how many replies of unknown outcome were looked up in the
channel's history, and how many of those were found there and so not posted again.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import socket
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import aiohttp  # noqa: E402
from slack_stub import LIBRARY_REPLIES, SlackWebApi, message_event, post, signed  # noqa: E402

from bench.turns import SCRIPT, calibration_seconds  # noqa: E402

CHILD = ROOT / "tests" / "slack_child.py"
# Seconds a restarted child may take to be ready: it first sends what its outbox holds.
READY_WITHIN = 600


class Bot:
    """The child process, started again after every kill, always on the same port."""

    def __init__(
        self, folder: Path, api: SlackWebApi, environ: dict[str, str] | None = None
    ) -> None:
        self._folder = folder
        self._api = api
        self._environ = {**os.environ, **(environ or {})}
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/slack/events"
        self._process: asyncio.subprocess.Process | None = None
        self._log = (folder / "child.log").open("a")
        self.up = asyncio.Event()

    async def start(self) -> None:
        self._process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(CHILD),
            str(self._folder / "civicbot.db"),
            str(ROOT / "surveys"),
            self._api.url,
            str(self.port),
            stdout=asyncio.subprocess.PIPE,
            stderr=self._log,
            env=self._environ,
        )
        assert self._process.stdout is not None
        line = await asyncio.wait_for(self._process.stdout.readline(), READY_WITHIN)
        assert line.startswith(b"ready"), line
        self.up.set()

    def kill(self) -> None:
        assert self._process is not None
        self.up.clear()
        self._process.send_signal(signal.SIGKILL)

    async def wait(self) -> None:
        assert self._process is not None
        await self._process.wait()

    async def stop(self) -> None:
        assert self._process is not None
        self._process.send_signal(signal.SIGTERM)
        await self._process.wait()
        self._log.close()


async def person(
    number: int, bot: Bot, api: SlackWebApi, session: aiohttp.ClientSession, sent: Counter
) -> None:
    user = f"U{number:05d}"
    channel = f"D{user}"
    for step, text in enumerate(SCRIPT):
        body = message_event(user, text, f"Ev{number}-{step}")
        retry = 0
        while True:  # Slack delivers again what got no 200, with the same event id
            await bot.up.wait()
            headers = {**signed(body), **({"X-Slack-Retry-Num": str(retry)} if retry else {})}
            try:
                response = await post(session, bot.url, body, headers=headers)
                if response.status == 200:
                    break
            except (aiohttp.ClientError, OSError):
                pass
            retry += 1
            await asyncio.sleep(0.2)
        sent["messages"] += 1
        try:
            await api.until(lambda step=step: len(api.top_level(channel)) > step, seconds=120)
        except TimeoutError:
            return  # its reply never came: counted as lost below


async def killer(bot: Bot, kills: int, done: asyncio.Event) -> int:
    made = 0
    while made < kills and not done.is_set():
        await asyncio.sleep(random.uniform(0.5, 3.0))  # long enough for replies to flow
        bot.kill()
        await bot.wait()
        made += 1
        await bot.start()
    return made


async def main(people: int, kills: int, latency: float) -> None:
    print(f"calibration: {calibration_seconds():.2f} s")
    api = SlackWebApi(latency=latency)
    await api.start()
    with tempfile.TemporaryDirectory() as folder:
        bot = Bot(Path(folder), api)
        await bot.start()
        sent: Counter = Counter()
        done = asyncio.Event()
        started = time.perf_counter()
        async with aiohttp.ClientSession() as session:
            killing = asyncio.create_task(killer(bot, kills, done))
            await asyncio.gather(*(person(n, bot, api, session, sent) for n in range(people)))
            done.set()
            made = await killing
        seconds = time.perf_counter() - started
        await bot.stop()
        log = (Path(folder) / "child.log").read_text()
        found = log.count("was posted before")
    await api.stop()
    lost = doubled = 0
    for number in range(people):
        posted = api.top_level(f"DU{number:05d}")
        texts = [m["text"] for m in posted]
        if len(texts) < len(LIBRARY_REPLIES) or not all(
            text.startswith(first) for text, first in zip(texts, LIBRARY_REPLIES, strict=False)
        ):
            lost += 1
        ids = Counter(m["metadata"]["event_payload"]["outbox_id"] for m in posted)
        doubled += sum(count - 1 for count in ids.values())
    print(
        f"{made} kills, {people} people, {sent['messages']} messages acknowledged,"
        f" {sum(len(api.top_level(f'DU{n:05d}')) for n in range(people))} replies posted;"
        f" lost {lost}, doubled {doubled}; {seconds:.1f} s"
    )
    print(
        f"replies of unknown outcome looked up in Slack: {len(api.made('conversations.history'))},"
        f" of them found posted already (so not posted again): {found}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=60)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument(
        "--latency", type=float, default=0.1, help="seconds Slack's answers take to arrive"
    )
    arguments = parser.parse_args()
    asyncio.run(main(arguments.people, arguments.kills, arguments.latency))
