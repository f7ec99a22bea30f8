"""Invitation waves are queued before they are sent: a stop halfway goes on at the next
start, inviting those left out and nobody twice."""

from __future__ import annotations

from pathlib import Path

from conftest import Clock, command, coordinated

from adapters.memory import MemoryAdapter
from bot.invitations import PROGRESS_SECONDS, Progress


def invited(chat: MemoryAdapter, person: str) -> int:
    return sum(o.message.text.startswith("Home care feedback") for o in chat.to(f"dm-{person}"))


async def test_a_wave_stopped_halfway_invites_the_rest_at_the_next_start_and_nobody_twice(
    tmp_path: Path, survey_folder: Path, clock: Clock
) -> None:
    async with coordinated(tmp_path, survey_folder, clock) as first:
        chat = first.adapters[0]
        assert "invited 1" in await command(chat, "survey start home-care for @ann")
        store = first.store
        # as a stop leaves a wave: Ann invited but still queued, Ben and Cat not yet
        people = [
            (store.pseudonym("memory", p), "memory", p, f"dm-{p}") for p in ("ann", "ben", "cat")
        ]
        await store.queue_invitations(1, people, now=clock())
        assert invited(chat, "ann") == 1
    async with coordinated(tmp_path, survey_folder, clock) as again:
        await again.coordination.invitations.resumed()
        await again.bot.settled()
        chat = again.adapters[0]
        assert (invited(chat, "ann"), invited(chat, "ben"), invited(chat, "cat")) == (0, 1, 1)
        assert await again.store.waiting_waves() == []


async def test_a_wave_above_the_approval_limit_invites_everyone_once_approved(
    tmp_path: Path, survey_folder: Path, clock: Clock
) -> None:
    people = [f"p{n}" for n in range(1_200)]
    channels = {"#everyone": people}
    coordinators = frozenset({"memory:coord", "memory:coord2"})
    async with coordinated(
        tmp_path, survey_folder, clock, channels=channels, coordinators=coordinators
    ) as runtime:
        chat = runtime.adapters[0]
        answer = await command(chat, "survey start home-care for #everyone")
        assert answer.startswith("Held, nothing sent")  # above approval_above: 500
        await chat.push(
            "coord2", "survey approve 1", command=True, is_direct=False, conversation="staff-room"
        )
        await runtime.bot.settled()
        assert sum(invited(chat, p) for p in people) == 1_200
        assert await runtime.store.waiting_waves() == []


async def test_a_long_wave_says_how_far_it_got_every_few_seconds() -> None:
    now = [0.0]
    told: list[str] = []

    async def tell(text: str) -> None:
        told.append(text)

    progress = Progress(tell, 7, 10_000, lambda: now[0])
    await progress.tell("invited {done:,} of {total:,}…", 500)  # too soon
    now[0] = PROGRESS_SECONDS
    await progress.tell("invited {done:,} of {total:,}…", 4_000)
    await progress.tell("invited {done:,} of {total:,}…", 4_500)  # too soon again
    now[0] = 3 * PROGRESS_SECONDS
    await progress.tell("invited {done:,} of {total:,}…", 10_000)  # the answer says the end
    assert told == ["Run 7: invited 4,000 of 10,000…"]
