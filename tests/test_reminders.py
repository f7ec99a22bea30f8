"""Reminders go to people still on their way, never in quiet hours, never too often."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import Clock, command, coordinated

from adapters.memory import MemoryAdapter
from bot.app import Runtime
from bot.commands import Unusable, parse
from bot.config import ConfigError, settings_of

HOUR = 3600.0
DAY = 24 * HOUR
# The test clock starts at 2027-01-15 08:00 UTC: the end of the default quiet hours.


@pytest.fixture
def runtime(settled: Runtime) -> Runtime:
    return settled


def reminders_to(chat: MemoryAdapter, user: str) -> int:
    return sum("A reminder about" in o.message.text for o in chat.to(f"dm-{user}"))


async def test_a_person_is_reminded_at_most_once_a_day_when_asked(
    chat: MemoryAdapter, clock: Clock
) -> None:
    await command(chat, "survey start home-care for @ben")
    clock.advance(DAY)
    assert await command(chat, "survey remind 1") == (
        "Reminded 1 of 1 people who have not finished run 1."
    )
    assert await command(chat, "survey remind 1") == (
        "Reminded 0 of 1 people who have not finished run 1."
        " Not reminded: 1 answered or were reminded too recently."
    )
    assert reminders_to(chat, "ben") == 1


async def test_nobody_is_reminded_in_quiet_hours(chat: MemoryAdapter, clock: Clock) -> None:
    await command(chat, "survey start home-care for @ben")
    clock.advance(DAY + 13 * HOUR)  # 21:00
    reply = await command(chat, "survey remind 1")
    assert reply == (
        "It is quiet hours (20:00–08:00 UTC): nobody is reminded now. Try again after they end."
    )
    assert reminders_to(chat, "ben") == 0


async def test_a_run_reminds_by_itself_after_its_interval_as_often_as_it_allows(
    runtime: Runtime, chat: MemoryAdapter, clock: Clock
) -> None:
    await command(chat, "survey start home-care for @ann @ben")
    reply = await command(chat, "survey remind 1 after 2 days, at most 2 times")
    assert reply == (
        "Run 1 reminds by itself everyone who has not finished: after 2 days without an answer,"
        " at most 2 times, never in quiet hours (20:00–08:00 UTC)."
    )
    await chat.push("ann", "yes")  # ann answers a day later, so her interval starts again
    for day in range(1, 9):
        clock.advance(DAY)
        await runtime.scheduler.settled()
        if day == 1:
            await chat.push("ann", "1")
    assert reminders_to(chat, "ben") == 2
    assert reminders_to(chat, "ann") == 2
    status = await command(chat, "survey status 1")
    assert "Reminders: after 2 days without an answer, at most 2 times." in status


async def test_automatic_reminders_wait_for_the_end_of_quiet_hours(
    runtime: Runtime, chat: MemoryAdapter, clock: Clock
) -> None:
    await command(chat, "survey start home-care for @ben")
    await command(chat, "survey remind 1 after 36 hours")
    clock.advance(36 * HOUR)  # 20:00 two days on: quiet
    await runtime.scheduler.settled()
    assert reminders_to(chat, "ben") == 0
    clock.advance(12 * HOUR)  # 08:00
    await runtime.scheduler.settled()
    assert reminders_to(chat, "ben") == 1


async def test_a_survey_file_can_set_the_reminders_of_its_runs(
    tmp_path: Path, survey_folder: Path, clock: Clock
) -> None:
    home_care = survey_folder / "home-care.yaml"
    home_care.write_text(
        "remind: {after: 1 day, at_most: 1}\n" + home_care.read_text(encoding="utf-8"), "utf-8"
    )
    async with coordinated(tmp_path, survey_folder, clock) as runtime:
        chat = runtime.adapters[0]
        await command(chat, "survey start home-care for @ben")
        for _ in range(3):
            clock.advance(DAY)
            await runtime.scheduler.settled()
        assert reminders_to(chat, "ben") == 1
        assert await command(chat, "survey remind 1 off") == (
            "Run 1 is back to its survey's reminders: after 1 day without an answer, at most once."
        )


async def test_reminders_of_a_run_can_be_turned_off(
    runtime: Runtime, chat: MemoryAdapter, clock: Clock
) -> None:
    await command(chat, "survey start home-care for @ben")
    await command(chat, "survey remind 1 after 1 day")
    assert await command(chat, "survey remind 1 off") == (
        "Run 1 sends no reminders by itself any more."
    )
    clock.advance(3 * DAY)
    await runtime.scheduler.settled()
    assert reminders_to(chat, "ben") == 0


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("survey remind 1 after 0 days", "after: must be longer than nothing"),
        ("survey remind 1 after 2 days, at most 0 times", "at_most: Input should be greater"),
        ("survey remind 1 after 2 days, at most 50 times", "at_most: Input should be less"),
        ("survey remind 1 soon", "cannot read 'soon'"),
    ],
)
def test_a_reminder_policy_that_cannot_work_is_refused(text: str, problem: str) -> None:
    parsed = parse(text)
    assert isinstance(parsed, Unusable)
    assert problem in parsed.message


def test_quiet_hours_that_are_not_a_time_span_are_named() -> None:
    with pytest.raises(ConfigError, match="quiet_hours: Value error, 'late' is not a time span"):
        settings_of({"quiet_hours": "late"}, source="civicbot.toml")
