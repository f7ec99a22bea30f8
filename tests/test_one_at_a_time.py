"""One participant's messages are handled one at a time, first come first served, and a
message given up on while it waits holds nobody else up."""

from __future__ import annotations

import asyncio

from bot.per_participant import ParticipantLocks


class Queue:
    """Turns for one key that each say when they are in line and when they run, and
    finish when let go."""

    def __init__(self, locks: ParticipantLocks) -> None:
        self.locks = locks
        self.ran: list[str] = []
        self.started: dict[str, asyncio.Event] = {}
        self.let_go: dict[str, asyncio.Event] = {}

    async def _turn(self, name: str, in_line: asyncio.Event) -> None:
        in_line.set()  # the next line queues without yielding to the loop in between
        async with self.locks.hold("someone"):
            self.ran.append(name)
            self.started[name].set()
            await self.let_go[name].wait()

    async def arrive(self, name: str) -> asyncio.Task[None]:
        in_line = asyncio.Event()
        self.started[name], self.let_go[name] = asyncio.Event(), asyncio.Event()
        task = asyncio.create_task(self._turn(name, in_line))
        await in_line.wait()
        return task

    async def running(self, name: str) -> None:
        async with asyncio.timeout(10):  # a lock never handed on fails here, not hangs
            await self.started[name].wait()


async def test_messages_waiting_for_the_same_person_run_in_arrival_order() -> None:
    queue = Queue(ParticipantLocks())
    tasks = [await queue.arrive(name) for name in ("first", "second", "third")]
    for name in ("first", "second", "third"):
        await queue.running(name)
        queue.let_go[name].set()
    await asyncio.gather(*tasks)
    assert queue.ran == ["first", "second", "third"]


async def test_a_message_given_up_on_while_waiting_holds_nobody_up() -> None:
    locks = ParticipantLocks()
    queue = Queue(locks)
    first = await queue.arrive("first")
    await queue.running("first")
    given_up = await queue.arrive("given up")
    last = await queue.arrive("last")
    given_up.cancel()
    queue.let_go["first"].set()
    await queue.running("last")
    queue.let_go["last"].set()
    await asyncio.gather(first, last)
    assert queue.ran == ["first", "last"]
    assert given_up.cancelled()
    assert len(locks) == 0


async def test_a_message_cancelled_just_as_its_turn_came_passes_the_turn_on() -> None:
    locks = ParticipantLocks()
    queue = Queue(locks)
    first = locks.hold("someone")
    await first.__aenter__()
    unlucky = await queue.arrive("unlucky")
    last = await queue.arrive("last")
    await first.__aexit__()  # hands the lock to "unlucky", which has not run yet
    unlucky.cancel()
    await queue.running("last")
    queue.let_go["last"].set()
    await last
    assert queue.ran == ["last"]
    assert unlucky.cancelled()
    assert len(locks) == 0


async def test_nobody_busy_leaves_no_lock_behind() -> None:
    locks = ParticipantLocks()
    for key in ("a", "b", "a"):
        async with locks.hold(key):
            assert len(locks) == 1
    assert len(locks) == 0
