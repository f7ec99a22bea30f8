"""SIGKILL in the middle of many conversations loses nothing and doubles nothing.

Forty participants answer the library survey at once through the core running in
a child process. The child is killed mid-flight and started again on the same
database. Then: every reply that was committed but not sent arrives, every
conversation goes on at the right question, and every answer is stored once.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sys
from collections import defaultdict
from pathlib import Path

from postgres_harness import Database

ROOT = Path(__file__).resolve().parent.parent
CHILD = Path(__file__).resolve().parent / "crash_child.py"
PARTICIPANTS = 40
REPLY_TIMEOUT = 30

# (what the participant types, a phrase from the reply that must come back)
SCRIPT = [
    ("library", "Do you want to take part?"),
    ("yes", "How often do you visit the library?"),
    ("1", "Which services have you used this year?"),
    ("1, 3", "how satisfied are you with the library?"),
    ("4", "What is one thing we could do better?"),
    ("{user} wants longer opening hours", "Your age group"),
    ("2", "Thank you! Library staff read every answer."),
]


class Child:
    """The bot process, with its replies sorted by conversation."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.replies: dict[str, asyncio.Queue[dict]] = defaultdict(asyncio.Queue)
        self.ready = asyncio.Event()
        self.reading = asyncio.create_task(self._read())

    @classmethod
    async def start(cls, database: Database) -> Child:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(CHILD),
            str(database.location),
            str(ROOT / "surveys"),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env={**os.environ, **database.environ},
        )
        child = cls(process)
        await asyncio.wait_for(child.ready.wait(), 30)
        return child

    async def _read(self) -> None:
        while line := await self.process.stdout.readline():
            message = json.loads(line)
            if message.get("ready"):
                self.ready.set()
            else:
                await self.replies[message["to"]].put(message)

    def say(self, user: str, text: str, event: str) -> None:
        line = json.dumps({"user": user, "text": text, "event": event}) + "\n"
        self.process.stdin.write(line.encode())

    async def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()
        await self.reading

    async def stop(self) -> None:
        self.process.stdin.close()
        await asyncio.wait_for(self.process.wait(), 30)
        await self.reading


class Participant:
    def __init__(self, number: int) -> None:
        self.user = f"p{number}"
        self.thinking = random.Random(number)  # people take their time, each differently
        self.conversation = f"dm-{self.user}"
        self.step = 0  # index into SCRIPT of the next message to send
        self.seen_outbox_ids: set[int] = set()

    def text(self, step: int) -> str:
        return SCRIPT[step][0].format(user=self.user)

    async def next_reply(self, child: Child) -> dict:
        """The next reply not seen before (a resent reply carries the same outbox id)."""
        queue = child.replies[self.conversation]
        async with asyncio.timeout(REPLY_TIMEOUT):
            while True:
                reply = await queue.get()
                if reply["outbox_id"] not in self.seen_outbox_ids:
                    self.seen_outbox_ids.add(reply["outbox_id"])
                    return reply

    async def answer(self, child: Child, until: int) -> None:
        """Send the script's messages one by one, each after the reply to the one before."""
        while self.step < until:
            await asyncio.sleep(self.thinking.uniform(0, 0.03))
            child.say(self.user, self.text(self.step), f"{self.user}-{self.step}")
            reply = await self.next_reply(child)
            expected = SCRIPT[self.step][1]
            assert expected in reply["text"], (self.user, self.step, reply["text"])
            self.step += 1


def unsent_outbox(database: Database) -> set[tuple[str, int]]:
    return set(database.rows("SELECT conversation_id, id FROM outbox"))


async def test_sigkill_mid_flight_loses_and_doubles_nothing(database: Database) -> None:
    participants = [Participant(i) for i in range(PARTICIPANTS)]
    child = await Child.start(database)

    # Everyone answers; the process dies while about half the turns are done.
    answering = [asyncio.create_task(p.answer(child, len(SCRIPT))) for p in participants]
    while sum(p.step for p in participants) < PARTICIPANTS * len(SCRIPT) // 2:  # noqa: ASYNC110
        await asyncio.sleep(0.005)
    await child.kill()
    for task in answering:
        task.cancel()
    await asyncio.gather(*answering, return_exceptions=True)
    # Replies already written to the pipe before the kill still count as sent.
    for p in participants:
        queue = child.replies[p.conversation]
        while not queue.empty():
            p.seen_outbox_ids.add(queue.get_nowait()["outbox_id"])
        # a reply that arrived after the participant stopped listening answers its step
        p.step = len(p.seen_outbox_ids)

    committed_not_sent = {
        (to, outbox_id)
        for to, outbox_id in unsent_outbox(database)
        if not any(outbox_id in p.seen_outbox_ids for p in participants)
    }
    assert committed_not_sent, "the kill should land between commit and send for someone"
    print(
        f"killed after {sum(p.step for p in participants)} replies;"
        f" {len(committed_not_sent)} committed but unsent;"
        f" {len(unsent_outbox(database)) - len(committed_not_sent)} sent but not yet cleared"
    )

    child = await Child.start(database)
    # Replies committed before the kill arrive first, unasked.
    for to, outbox_id in committed_not_sent:
        participant = next(p for p in participants if p.conversation == to)
        reply = await participant.next_reply(child)
        assert reply["outbox_id"] == outbox_id
        assert SCRIPT[participant.step][1] in reply["text"]
        participant.step += 1

    # A message whose turn never committed is sent again with the same event id; one
    # that did commit and is sent again changes nothing. Then everyone finishes.
    async def resume(p: Participant) -> None:
        if p.step > 0:
            child.say(p.user, p.text(p.step - 1), f"{p.user}-{p.step - 1}")  # a redelivery
        await p.answer(child, len(SCRIPT))

    await asyncio.gather(*(resume(p) for p in participants))
    await child.stop()  # reads every reply the child still writes, so none escapes the count

    statuses = database.rows("SELECT status, count(*) FROM responses GROUP BY 1")
    assert statuses == [("completed", PARTICIPANTS)]
    assert database.rows("SELECT count(*) FROM processed_events") == [(PARTICIPANTS * len(SCRIPT),)]
    answers = database.rows(
        "SELECT a.value, a.question_id, r.pid FROM answers a"
        " JOIN responses r ON r.id = a.response_id"
    )
    assert len(answers) == PARTICIPANTS * 5
    improve = sorted(json.loads(v) for v, q, _ in answers if q == "improve")
    assert improve == sorted(f"{p.user} wants longer opening hours" for p in participants)
    assert database.rows("SELECT count(*) FROM outbox") == [(0,)]
    for p in participants:
        assert len(p.seen_outbox_ids) == len(SCRIPT), p.user  # one reply per message, no more
