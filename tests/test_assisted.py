"""`survey assist`: an intermediary types the answers of someone they reached by phone
or in person, stored as a new respondent's, marked as assisted, and shown as such."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from conftest import Clock, command, coordinated

from adapters.memory import MemoryAdapter
from bot.app import Runtime

HELPER = "helper"  # holds the intermediary role
DM = f"dm-{HELPER}"


def rows(tmp_path: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(tmp_path / "civicbot.db") as connection:
        return connection.execute(sql).fetchall()


@pytest.fixture
async def helped(tmp_path: Path, survey_folder: Path, clock: Clock) -> AsyncIterator[Runtime]:
    roles = {"intermediary": ["memory:helper"]}
    async with coordinated(tmp_path, survey_folder, clock, roles=roles) as runtime:
        yield runtime


def chat_of(runtime: Runtime) -> MemoryAdapter:
    adapter = runtime.adapters[0]
    assert isinstance(adapter, MemoryAdapter)
    return adapter


async def helper_types(chat: MemoryAdapter, *texts: str) -> str:
    """The intermediary types into their direct conversation; the bot's last answer."""
    for text in texts:
        await chat.push(HELPER, text)
    return chat.to(DM)[-1].message.text


async def assist(chat: MemoryAdapter, command: str = "survey assist library") -> str:
    await chat.push(HELPER, command, command=True, is_direct=False, conversation=DM)
    return chat.to(DM)[-1].message.text


LIBRARY = ["yes", "2", "1, 3", "4", "Longer hours", "4"]  # consent, then every question


async def test_an_intermediary_types_a_phoned_persons_answers_stored_as_theirs(helped, tmp_path):
    chat = chat_of(helped)
    asked = await assist(chat)
    assert asked.startswith("You are answering for someone in: City library feedback.")
    assert [c.label for c in chat.to(DM)[-1].message.choices] == [
        "By phone",
        "In person",
        "On a home visit",
    ]
    assert (await helper_types(chat, "1")).startswith("Has the person agreed")
    begun = await helper_types(chat, "yes")
    assert begun.startswith("Type the person's answers as they give them")
    closed = await helper_types(chat, *LIBRARY)
    assert "The session is closed" in closed
    assert rows(tmp_path, "SELECT DISTINCT given_by FROM answers") == [("intermediary",)]
    assert rows(tmp_path, "SELECT status, channel, reached_by FROM responses") == [
        ("completed", "assisted", "phone")
    ]
    helper = helped.store.pseudonym("memory", HELPER)
    assert rows(tmp_path, f"SELECT count(*) FROM responses WHERE pid = '{helper}'") == [(0,)]
    assert rows(tmp_path, "SELECT assisted_by FROM responses") == [(helper,)]
    assert rows(tmp_path, "SELECT count(*) FROM assisted_sessions") == [(0,)]


async def test_done_closes_the_session_and_what_follows_is_the_intermediarys_own(helped, tmp_path):
    chat = chat_of(helped)
    await assist(chat)
    await helper_types(chat, "in person", "yes", "yes", "2")
    assert "The session is closed" in await helper_types(chat, "done")
    after = await helper_types(chat, "3")  # no session: their own chat, no survey
    assert "session" not in after
    assert rows(tmp_path, "SELECT question_id FROM answers") == [("visits",)]
    assert rows(tmp_path, "SELECT status, reached_by FROM responses") == [("stopped", "in_person")]


async def test_a_second_session_before_done_is_refused(helped):
    chat = chat_of(helped)
    await assist(chat)
    refused = await assist(chat, "survey assist home-care")
    assert refused == (
        "You are answering for someone in City library feedback already. "
        "Type done to close that session first."
    )


async def test_no_agreement_stores_nothing_for_the_person(helped, tmp_path):
    chat = chat_of(helped)
    await assist(chat)
    said = await helper_types(chat, "3", "no")
    assert said == "Nothing was stored for them. The session is closed."
    assert rows(tmp_path, "SELECT count(*) FROM responses") == [(0,)]


async def test_an_intermediary_cannot_read_the_persons_data_through_the_session(helped):
    chat = chat_of(helped)
    await assist(chat)
    await helper_types(chat, "1", "yes", "yes")
    said = await helper_types(chat, "my data")
    assert said.startswith("In an assisted session, my data and forget me")


async def test_a_session_in_finnish_asks_in_finnish(helped):
    chat = chat_of(helped)
    asked = await assist(chat, "survey assist library in fi")
    assert asked.startswith("Vastaat toisen puolesta kyselyyn: Kaupunginkirjaston palautekysely.")


async def test_an_analyst_without_the_intermediary_role_cannot_assist(
    tmp_path, survey_folder, clock
):
    roles = {"analyst": ["memory:reader"]}
    async with coordinated(tmp_path, survey_folder, clock, roles=roles) as runtime:
        chat = chat_of(runtime)
        answer = await command(chat, "survey assist library", user="reader")
        assert "intermediary" in answer
        assert rows(tmp_path, "SELECT count(*) FROM assisted_sessions") == [(0,)]


async def test_the_digest_counts_assisted_responses_by_how_people_were_reached(
    one_person_digests, helped
):
    chat = chat_of(helped)
    for mode in ("1", "1", "3"):
        await assist(chat)
        await helper_types(chat, mode, "yes", *LIBRARY)
    await command(chat, "survey digest 1")
    digest = next(o.message.text for o in chat.sent if o.message.text.startswith("Digest:"))
    assert "3 answered with an intermediary's help (2 by phone, 1 on a home visit)." in digest


async def test_an_assisted_session_is_in_the_audit_log(helped):
    chat = chat_of(helped)
    await assist(chat)
    audit = await command(chat, "survey audit")
    assert "memory:helper: survey assist library" in audit
