"""Runs that start at a time or again and again, and close by themselves, across restarts."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import STAFF_ROOM, Clock, command, coordinated

from adapters.memory import MemoryAdapter
from bot.app import Runtime

HOUR = 3600.0
DAY = 24 * HOUR
# The test clock starts at 2027-01-15 08:00 UTC.


def until(clock: Clock, moment: str) -> float:
    return datetime.fromisoformat(moment).replace(tzinfo=UTC).timestamp() - clock()


@pytest.fixture
def runtime(settled: Runtime) -> Runtime:
    return settled


async def moved(runtime: Runtime, clock: Clock, seconds: float) -> None:
    clock.advance(seconds)
    await runtime.scheduler.settled()


def told(chat: MemoryAdapter) -> list[str]:
    return [o.message.text for o in chat.to(STAFF_ROOM)]


async def test_a_start_at_a_time_invites_then_and_not_before(
    runtime: Runtime, chat: MemoryAdapter, clock: Clock
) -> None:
    reply = await command(chat, "survey start home-care for @ann at 2027-01-15 10:00")
    assert reply == (
        "Scheduled start S1: 'survey start home-care for @ann' next at 2027-01-15 10:00 UTC."
    )
    await moved(runtime, clock, HOUR)
    assert chat.to("dm-ann") == []
    await moved(runtime, clock, HOUR)
    assert chat.to("dm-ann")[0].message.text.startswith("Home care feedback")
    assert told(chat)[-1].startswith("Scheduled start S1: Run 1 of 'Home care feedback' started")
    assert "Scheduled starts:" not in await command(chat, "survey list")


async def test_a_recurring_start_makes_a_new_run_each_time_and_closes_the_one_before(
    runtime: Runtime, chat: MemoryAdapter, clock: Clock
) -> None:
    reply = await command(chat, 'survey start library for everyone every "0 9 1 * *"')
    assert reply == (
        "Scheduled start S1: 'survey start library for everyone' next at 2027-02-01 09:00 UTC,"
        " a new run At 09:00 AM, on day 1 of the month."
    )
    await moved(runtime, clock, until(clock, "2027-02-01 09:00"))
    await moved(runtime, clock, until(clock, "2027-03-01 09:00"))
    runs = await runtime.store.runs()
    assert [(r.id, r.status) for r in runs] == [(1, "closed"), (2, "open")]
    listed = await command(chat, "survey list")
    assert "  S1: 'survey start library for everyone' next at 2027-04-01 09:00 UTC" in listed


async def test_until_closes_a_run_started_now_by_itself(
    runtime: Runtime, chat: MemoryAdapter, clock: Clock
) -> None:
    reply = await command(chat, "survey start library for everyone until 2027-01-16")
    assert reply.endswith("It closes by itself at 2027-01-17 00:00 UTC.")
    assert "It closes by itself at 2027-01-17 00:00 UTC." in await command(chat, "survey status 1")
    await moved(runtime, clock, 2 * DAY)
    assert (await runtime.store.run(1)).status == "closed"


async def test_a_run_can_be_told_to_close_later(
    runtime: Runtime, chat: MemoryAdapter, clock: Clock
) -> None:
    await command(chat, "survey start library for everyone")
    assert await command(chat, "survey close 1 at 2027-01-15 12:00") == (
        "Run 1 closes by itself at 2027-01-15 12:00 UTC."
    )
    await moved(runtime, clock, 4 * HOUR)
    assert (await runtime.store.run(1)).status == "closed"
    assert await command(chat, "survey close 1 at 2027-02-01") == "Run 1 is already closed."


async def test_a_start_missed_while_down_is_caught_up_once_and_the_coordinator_told(
    tmp_path: Path, survey_folder: Path, clock: Clock
) -> None:
    async with coordinated(tmp_path, survey_folder, clock) as runtime:
        await command(runtime.adapters[0], "survey start home-care for @ann at 2027-01-15 10:00")
    clock.advance(5 * HOUR)  # civicbot was down at 10:00
    async with coordinated(tmp_path, survey_folder, clock) as runtime:
        await runtime.scheduler.settled()
        chat = runtime.adapters[0]
        assert told(chat)[0].startswith(
            "Scheduled start S1 caught up (due at 2027-01-15 10:00 UTC while civicbot was down):"
            " Run 1 of 'Home care feedback' started"
        )
        assert len(chat.to("dm-ann")) == 1
    async with coordinated(tmp_path, survey_folder, clock) as runtime:
        await runtime.scheduler.settled()
        assert told(runtime.adapters[0]) == []
        assert len(await runtime.store.runs()) == 1


async def test_a_start_missed_past_its_close_date_is_skipped(
    tmp_path: Path, survey_folder: Path, clock: Clock
) -> None:
    async with coordinated(tmp_path, survey_folder, clock) as runtime:
        await command(
            runtime.adapters[0],
            "survey start home-care for @ann at 2027-01-15 10:00 until 2027-01-15 12:00",
        )
    clock.advance(DAY)
    async with coordinated(tmp_path, survey_folder, clock) as runtime:
        await runtime.scheduler.settled()
        assert told(runtime.adapters[0]) == [
            "Scheduled start S1 skipped (due at 2027-01-15 10:00 UTC while civicbot was down):"
            " its close date has passed."
        ]
        assert await runtime.store.runs() == []


async def test_a_scheduled_start_can_be_removed(
    runtime: Runtime, chat: MemoryAdapter, clock: Clock
) -> None:
    await command(chat, "survey start home-care for @ann at 2027-01-15 10:00")
    assert await command(chat, "survey unschedule S1") == "Scheduled start S1 removed."
    await moved(runtime, clock, 3 * HOUR)
    assert chat.to("dm-ann") == []


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        (
            'survey start library for everyone every "* * * * *"',
            "'* * * * *' would start a new run every 1 minutes; a recurring run starts at most"
            " once a day.",
        ),
        (
            "survey start library for everyone at 2026-01-04 09:00",
            "2026-01-04 09:00 UTC has passed; give a time to come.",
        ),
        (
            "survey start library for everyone at 2027-02-04 09:00 until 2027-02-01",
            "until 2027-02-02 00:00 UTC is not after the start at 2027-02-04 09:00 UTC.",
        ),
        (
            'survey start library for everyone at 2027-02-04 09:00 every "0 9 * * *"',
            "'survey start' takes either at (once) or every (again and again).",
        ),
    ],
)
async def test_a_schedule_that_cannot_work_is_refused_and_nothing_is_stored(
    runtime: Runtime, chat: MemoryAdapter, text: str, answer: str
) -> None:
    assert (await command(chat, text)).startswith(answer)
    assert await runtime.store.run_schedules() == []
    assert await runtime.store.runs() == []
