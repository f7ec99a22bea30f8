"""A survey's life as people meet it: opened by a coordinator, answered once, stopped,
abandoned and expired, and opted out of."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from conftest import STAFF_ROOM, Clock, command, coordinated, says

from adapters.memory import MemoryAdapter
from bot.app import Runtime

DAY = 24 * 3600.0
YOUTH_SURVEY = """
id: youth
keyword: youth
languages: [en]
title: {en: Youth services}
questions:
  - id: visits
    type: single_choice
    text: {en: How often do you come?}
    options:
      - {id: weekly, text: {en: Every week}}
      - {id: rarely, text: {en: Rarely}}
  - id: wish
    type: text
    optional: true
    text: {en: What would you like more of?}
"""
LIBRARY_TO_THE_END = ("library", "yes", "every week", "1, 2", "4", "More Finnish books", "skip")


@pytest.fixture
async def runtime(tmp_path: Path, survey_folder: Path, clock: Clock) -> AsyncIterator[Runtime]:
    (survey_folder / "youth.yaml").write_text(YOUTH_SURVEY, encoding="utf-8")
    (survey_folder / "youth-again.yaml").write_text(
        YOUTH_SURVEY.replace("id: youth", "id: youth-again\nrepeat: true").replace(
            "keyword: youth", "keyword: again"
        ),
        encoding="utf-8",
    )
    async with coordinated(
        tmp_path, survey_folder, clock, staff_channel=f"memory:{STAFF_ROOM}"
    ) as started:
        yield started


async def test_a_survey_nobody_opened_does_not_start_by_its_keyword(chat: MemoryAdapter) -> None:
    reply = await says(chat, "ann", "youth")
    assert reply.startswith("These surveys are open to you.")
    assert "youth" not in reply
    await command(chat, "survey start youth for everyone")
    assert (await says(chat, "ann", "youth")).startswith("Youth services\n\nHow often do you come?")


async def test_an_open_survey_starts_by_keyword_with_a_staff_channel_for_its_digests(
    chat: MemoryAdapter,
) -> None:
    await says(chat, "ann", "library")
    reply = await command(chat, "survey schedule 1 0 9 * * mon")
    assert reply.startswith("Schedule 1: the digest of run 1 at '0 9 * * mon'")


async def test_someone_who_finished_is_told_so_and_counted_once(chat: MemoryAdapter) -> None:
    await says(chat, "ann", *LIBRARY_TO_THE_END)
    again = await says(chat, "ann", "library")
    assert again == "You have already answered “City library feedback”. Thank you!"
    status = await command(chat, "survey status 1")
    assert "1 person, 1 responses, 1 completed (100%)" in status


async def test_someone_who_finished_is_told_so_after_answering_another_survey(
    chat: MemoryAdapter,
) -> None:
    await says(chat, "ann", *LIBRARY_TO_THE_END)
    await command(chat, "survey start youth for everyone")
    await says(chat, "ann", "youth", "1", "skip")
    assert await says(chat, "ann", "library") == (
        "You have already answered “City library feedback”. Thank you!"
    )


async def test_a_survey_that_allows_repeats_can_be_answered_again(chat: MemoryAdapter) -> None:
    await command(chat, "survey start youth-again for everyone")
    await says(chat, "ann", "again", "1", "skip")
    assert (await says(chat, "ann", "again")).startswith("Youth services\n\nHow often do you come?")
    await says(chat, "ann", "2", "skip")
    status = await command(chat, "survey status 1")
    assert "1 person, 2 responses, 2 completed (100%)" in status


async def test_after_stop_the_person_can_start_another_survey(chat: MemoryAdapter) -> None:
    await says(chat, "ann", "library", "yes")
    assert (await says(chat, "ann", "stop")).startswith("You have stopped for now.")
    assert (await says(chat, "ann", "homecare")).startswith("Home care feedback\nThis short")


async def test_stopped_people_are_not_reminded(chat: MemoryAdapter, clock: Clock) -> None:
    await command(chat, "survey start home-care for @ann @ben")
    await says(chat, "ann", "stop")
    clock.advance(DAY)
    assert await command(chat, "survey remind 1") == (
        "Reminded 1 of 1 people who have not finished run 1."
    )
    assert "reminder" not in chat.to("dm-ann")[-1].message.text


async def test_an_abandoned_conversation_expires_and_its_person_is_told_it_moved_on(
    chat: MemoryAdapter, clock: Clock, tmp_path: Path
) -> None:
    await says(chat, "ann", "library", "yes")
    clock.advance(15 * DAY)
    reply = await says(chat, "ann", "every week")
    assert reply.startswith(
        "The survey you started, “City library feedback”, has moved on, so your message was"
        " not kept as an answer.\n\nThese surveys are open to you."
    )
    assert (await says(chat, "ann", "hello")).startswith("These surveys are open to you.")
    assert (await says(chat, "ann", "library")).startswith("City library feedback\nWe would")


async def test_an_expired_conversation_no_longer_blocks_an_invitation(
    chat: MemoryAdapter, clock: Clock
) -> None:
    await says(chat, "ann", "library", "yes")
    clock.advance(15 * DAY)
    reply = await command(chat, "survey start home-care for @ann")
    assert "invited 1." in reply
    assert await command(chat, "survey remind 1") == (
        "Reminded 0 of 0 people who have not finished run 1."
    )


async def test_expired_conversations_are_counted_by_the_hourly_upkeep(
    runtime: Runtime, chat: MemoryAdapter, clock: Clock
) -> None:
    await runtime.scheduler.settled()  # the upkeep at start is over
    await says(chat, "ann", "library", "yes")
    clock.advance(15 * DAY)
    await runtime.scheduler.settled()
    statuses = [r.status for r in (await runtime.store.run_rows(1)).responses]
    assert statuses == ["expired"]


async def test_unsubscribe_ends_invitations_and_reminders_until_the_person_writes_again(
    chat: MemoryAdapter, clock: Clock
) -> None:
    await command(chat, "survey start home-care for @ann @ben")
    reply = await says(chat, "ann", "unsubscribe")
    assert reply.startswith("You will get no more invitations or reminders.")
    clock.advance(DAY)
    assert await command(chat, "survey remind 1") == (
        "Reminded 1 of 1 people who have not finished run 1."
    )
    invited = await command(chat, "survey start youth for @ann")
    assert "invited 0, 1 opted out of invitations, not invited." in invited
    status = await command(chat, "survey status 1")
    assert "1 person of them opted out of invitations and reminders." in status
    await says(chat, "ann", "hello")
    assert "invited 1." in await command(chat, "survey start youth for @ann")


async def test_unsubscribe_outside_any_survey_is_understood(chat: MemoryAdapter) -> None:
    reply = await says(chat, "ann", "opt out")
    assert reply.startswith("You will get no more invitations or reminders.")


async def test_an_open_survey_whose_digests_have_nowhere_to_go_is_reported_at_start(
    tmp_path: Path, survey_folder: Path, clock: Clock
) -> None:
    async with coordinated(tmp_path, survey_folder, clock) as runtime:
        problems = [str(p) for p in runtime.surveys.problems]
    assert "library-services: warning: open: true, but its digests have nowhere to go" in (
        "\n".join(problems)
    )
