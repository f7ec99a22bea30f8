"""The accessible profile as a person meets it: switched on by a word before or during a
survey, every answer read back before it is kept, plain texts, no expiry, shown in
`my data`, and kept with the person for the next survey and the next invitation."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from conftest import STAFF_ROOM, Clock, command, coordinated, says

from adapters.memory import MemoryAdapter
from bot.app import Runtime

DAY = 24 * 3600.0


@pytest.fixture
async def runtime(tmp_path: Path, survey_folder: Path, clock: Clock) -> AsyncIterator[Runtime]:
    async with coordinated(
        tmp_path, survey_folder, clock, staff_channel=f"memory:{STAFF_ROOM}"
    ) as started:
        yield started


def answers(tmp_path: Path) -> set[tuple[str, str]]:
    with sqlite3.connect(tmp_path / "civicbot.db") as connection:
        return set(connection.execute("SELECT question_id, value FROM answers"))


async def test_simple_before_a_survey_makes_the_survey_plain_and_read_back(
    chat: MemoryAdapter,
) -> None:
    said = await says(chat, "ann", "simple")
    assert said.startswith("The simpler chat is on. I ask one thing at a time")
    opening = await says(chat, "ann", "library")
    assert "It takes 3 minutes." in opening
    assert "We do not show your name." in opening
    question = await says(chat, "ann", "yes")
    assert "1 = Every week\n2 = Every month" in question


async def test_an_answer_is_stored_only_once_the_person_says_it_is_right(
    chat: MemoryAdapter, tmp_path: Path
) -> None:
    await says(chat, "ann", "simple", "library", "yes")
    read_back = await says(chat, "ann", "2")
    assert read_back.startswith("You chose 2, Every month. Is that right?")
    assert answers(tmp_path) == set()
    await says(chat, "ann", "yes")
    assert answers(tmp_path) == {("visits", '"monthly"')}


async def test_the_read_back_has_yes_and_no_buttons(chat: MemoryAdapter) -> None:
    await says(chat, "ann", "simple", "library", "yes", "2")
    read_back = chat.to("dm-ann")[-1].message
    assert [c.label for c in read_back.choices] == ["Yes", "No"]
    await chat.push("ann", "", action=read_back.choices[1].value)
    assert chat.to("dm-ann")[-1].message.text.startswith("Then please answer again.")


async def test_my_data_says_the_simpler_chat_is_on(chat: MemoryAdapter) -> None:
    await says(chat, "ann", "simple")
    shown = await says(chat, "ann", "my data")
    assert shown == (
        "We have no answers stored from you.\n"
        "The simpler chat is on for you. Type simple off to turn it off."
    )
    await says(chat, "ann", "simple off")
    assert await says(chat, "ann", "my data") == "We have no answers stored from you."


async def test_simple_off_in_a_survey_keeps_answers_at_once_again(
    chat: MemoryAdapter, tmp_path: Path
) -> None:
    await says(chat, "ann", "library", "yes", "simple", "1", "yes")
    assert answers(tmp_path) == {("visits", '"weekly"')}
    said = await says(chat, "ann", "simple off")
    assert said.startswith("The simpler chat is off.")
    await says(chat, "ann", "1")
    assert answers(tmp_path) == {("visits", '"weekly"'), ("services", '["loans"]')}


async def test_a_conversation_with_the_profile_on_does_not_expire(
    runtime: Runtime, chat: MemoryAdapter, clock: Clock
) -> None:
    await says(chat, "ann", "simple", "library", "yes")
    clock.advance(30 * DAY)
    await runtime.scheduler.settled()  # the hourly upkeep that expires conversations
    statuses = [r.status for r in (await runtime.store.run_rows(1)).responses]
    assert statuses == ["answering"]
    assert (await says(chat, "ann", "1")).startswith("You chose 1, Every week.")


async def test_an_invitation_to_someone_with_the_profile_on_writes_every_choice_out(
    chat: MemoryAdapter,
) -> None:
    await says(chat, "ann", "selko")
    assert "invited 1." in await command(chat, "survey start home-care for @ann")
    await says(chat, "ann", "yes")
    question = chat.to("dm-ann")[-1].message
    assert "1 = " in question.text
    assert question.numbered is False  # the numbers are in the text already
