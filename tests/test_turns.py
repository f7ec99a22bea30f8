"""The core with the in-process adapter: every answer stored before the reply, once."""

from __future__ import annotations

import asyncio
import json
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from conftest import Clock
from postgres_harness import Database

from adapters.memory import MemoryAdapter
from bot.app import Runtime, running
from bot.events import Outbound, Refused


@pytest.fixture
async def runtime(database: Database, survey_folder: Path, clock: Clock) -> AsyncIterator[Runtime]:
    """civicbot with the in-memory adapter, on each backend in turn."""
    async with running(
        database=database.location,
        survey_folder=survey_folder,
        adapters=[MemoryAdapter],
        clock=clock,
        environ=database.environ,
    ) as started:
        yield started


def answers(database: Database) -> dict[str, object]:
    found = database.rows("SELECT question_id, value FROM answers")
    return {question: json.loads(value) for question, value in found}


async def say_all(chat: MemoryAdapter, user: str, *texts: str) -> None:
    for text in texts:
        await chat.push(user, text)


async def test_citizen_completes_a_survey_by_typing(
    runtime: Runtime, chat: MemoryAdapter, database: Database
) -> None:
    await say_all(
        chat, "anna", "Library", "yes", "every week", "1, 2", "4", "More Finnish books", "skip"
    )
    assert chat.sent[-1].message.text == "Thank you! Library staff read every answer."
    assert answers(database) == {
        "visits": "weekly",
        "services": ["loans", "ebooks"],
        "satisfaction": 4,
        "improve": "More Finnish books",
        "age_group": None,
    }
    assert database.rows("SELECT status FROM responses") == [("completed",)]
    await runtime.outbox.settle()
    assert database.rows("SELECT count(*) FROM outbox") == [(0,)]


async def test_buttons_show_under_their_question(chat: MemoryAdapter) -> None:
    await say_all(chat, "anna", "library")
    opening = chat.sent[-1]
    assert opening.message.text.startswith("City library feedback")
    assert opening.message.text.endswith("Do you want to take part?\nReply yes or no.")
    assert [c.value for c in opening.message.choices] == ["consent=yes", "consent=no"]
    await chat.push("anna", action="consent=yes")
    assert next(c.label for c in chat.sent[-1].message.choices) == "Every week"


async def test_redelivered_event_changes_nothing_and_sends_nothing(
    chat: MemoryAdapter, database: Database
) -> None:
    await chat.push("anna", "library", event_id="e1")
    await chat.push("anna", "yes", event_id="e2")
    await chat.push("anna", "2", event_id="e3")
    sent_before = len(chat.sent)
    await chat.push("anna", "2", event_id="e3")
    await chat.push("anna", "yes", event_id="e2")
    assert len(chat.sent) == sent_before
    assert answers(database) == {"visits": "monthly"}
    assert "Which services" in chat.sent[-1].message.text


async def test_message_with_no_survey_running_says_how_to_start(
    chat: MemoryAdapter, database: Database
) -> None:
    await chat.push("bo", "hello?")
    reply = chat.sent[-1]
    assert reply.message.text == (
        "These surveys are open to you. Choose one, or type its word: branchtest, homecare, library"
    )
    assert [(c.label, c.value) for c in reply.message.choices] == [
        ("Test survey", "branchtest"),
        ("Home care feedback", "homecare"),
        ("City library feedback", "library"),
    ]
    assert database.rows("SELECT count(*) FROM responses") == [(0,)]


async def test_a_survey_button_starts_that_survey(chat: MemoryAdapter) -> None:
    await chat.push("bo", "hello?")
    await chat.push("bo", action="homecare")
    assert chat.sent[-1].message.text.startswith("Home care feedback")


async def test_no_survey_reply_speaks_the_platform_language(chat: MemoryAdapter) -> None:
    await chat.push("bo", "hei", locale="fi")
    assert chat.sent[-1].message.text.startswith("Nämä kyselyt ovat avoinna sinulle.")


async def test_anonymous_answers_carry_no_link_to_the_participant(
    chat: MemoryAdapter, database: Database
) -> None:
    await say_all(chat, "cai", "homecare", "yes", "1", "3", "8", "5", "1,2", "skip")
    assert chat.sent[-1].message.text.startswith(
        "Thank you. Your feedback goes to the home-care team"
    )
    assert database.rows("SELECT pid, status FROM responses") == [(None, "completed")]
    assert database.rows("SELECT response_id FROM conversations") == [(None,)]
    assert answers(database)["wishes"] == ["same_carer", "more_time"]
    # nor does the ended conversation keep the path taken, which could tell the answers
    [(state,)] = database.rows("SELECT state FROM conversations")
    assert json.loads(state)["history"] == []


async def test_platform_user_ids_are_stored_only_as_the_address(
    chat: MemoryAdapter, database: Database
) -> None:
    await say_all(chat, "user-visible-id", "library", "yes", "1")
    found = []
    for table, column in database.columns():
        hits = database.rows(
            f"SELECT 1 FROM {table} WHERE CAST({column} AS TEXT) LIKE '%visible-id%'"
        )
        if hits:
            found.append(f"{table}.{column}")
    assert sorted(found) == [
        "addresses.conversation_id",
        "addresses.user_id",
        "outbox.conversation_id",
    ]
    (pid,) = database.rows("SELECT pid FROM participants")[0]
    assert len(pid) == 32
    assert "user" not in pid


async def test_one_participants_messages_are_handled_in_order(
    chat: MemoryAdapter, database: Database
) -> None:
    await chat.push("dee", "library")
    # sent together: each must see the state the previous one left
    await asyncio.gather(*(chat.push("dee", text) for text in ["yes", "4", "1", "2"]))
    assert answers(database) == {"visits": "never", "barriers": ["hours"], "improve": "2"}
    assert "Your age group" in chat.sent[-1].message.text


async def test_participants_answer_concurrently(chat: MemoryAdapter, database: Database) -> None:
    users = [f"user{i}" for i in range(50)]
    for text in ["library", "yes", "1", "3", "5", "fine", "skip"]:
        await asyncio.gather(*(chat.push(user, text) for user in users))
    assert database.rows("SELECT count(*) FROM responses WHERE status = 'completed'") == [(50,)]
    assert database.rows("SELECT count(*) FROM answers") == [(50 * 5,)]


async def test_stop_is_never_stored_as_an_answer(chat: MemoryAdapter, database: Database) -> None:
    await say_all(chat, "eve", "library", "yes", "1", "1", "3", "stop")
    assert "improve" not in answers(database)
    assert database.rows("SELECT status FROM responses") == [("stopped",)]
    await say_all(chat, "eve", "continue", "It is fine")
    assert answers(database)["improve"] == "It is fine"


async def test_back_withdraws_the_answer_being_changed(
    chat: MemoryAdapter, database: Database
) -> None:
    await say_all(chat, "fay", "library", "yes", "4", "back")
    assert answers(database) == {}
    await chat.push("fay", "1")
    assert answers(database) == {"visits": "weekly"}


async def test_bad_messages_get_clear_answers_and_lose_nothing(
    chat: MemoryAdapter, database: Database
) -> None:
    await say_all(chat, "gus", "branchtest", "1", "0")
    stored = answers(database)
    await chat.push("gus", "x" * 1_000_000)
    assert "That message is too long for me (1000000 characters)" in chat.sent[-1].message.text
    await chat.push("gus", "")
    assert chat.sent[-1].message.text.startswith("I did not get any text.")
    await chat.push("gus", "\x00\x07\x1b\u202e")
    # the third failure in a row: the reason and an offer of help, then the question
    assert chat.sent[-2].message.text.startswith(
        "I did not get any text. Please type an answer.\nHaving trouble?"
    )
    assert chat.sent[-1].message.text.startswith("Why so low?")
    assert answers(database) == stored
    await chat.push("gus", "טוב 👍🏽")
    assert answers(database)["why"] == "טוב 👍🏽"


async def hals_reply_left_in_the_outbox(
    database: Database, survey_folder: Path, clock: Clock
) -> dict[str, object]:
    """Hal starts the library survey while the platform is down; the settings to run
    civicbot on the same database again."""

    async def broken(outbound: object) -> None:
        raise ConnectionError("platform down")

    settings = {
        "database": database.location,
        "survey_folder": survey_folder,
        "clock": clock,
        "environ": database.environ,
    }
    async with running(
        adapters=[lambda handler: MemoryAdapter(handler, on_send=broken)],
        send_retry_delays=(),
        **settings,
    ) as runtime:
        await runtime.adapters[0].push("hal", "library")
    assert database.rows("SELECT count(*) FROM outbox") == [(1,)]
    return settings


async def test_a_restart_answers_newcomers_at_once_while_replies_left_over_still_go_out_first(
    database: Database, survey_folder: Path, clock: Clock
) -> None:
    settings = await hals_reply_left_in_the_outbox(database, survey_folder, clock)

    platform_slow = asyncio.Event()
    sent: list[tuple[str, str]] = []

    async def slow_for_hal(outbound: Outbound) -> None:
        if outbound.conversation_id == "dm-hal" and not sent_to(sent, "dm-hal"):
            await platform_slow.wait()  # the reply left over takes its time
        sent.append((outbound.conversation_id, outbound.message.text))

    async with running(
        adapters=[lambda handler: MemoryAdapter(handler, on_send=slow_for_hal)], **settings
    ) as runtime:
        chat = runtime.adapters[0]
        await chat.push("joe", "library")  # not held up by hal's reply, still on its way
        assert [to for to, _ in sent] == ["dm-joe"]
        hal_sent = await chat.push("hal", "yes", until_sent=False)  # stored, waits behind
        platform_slow.set()
        await hal_sent
        hals = sent_to(sent, "dm-hal")
        assert hals[0].startswith("City library feedback")  # the reply left over first
        assert hals[1].startswith("How often do you visit the library?")


def sent_to(sent: list[tuple[str, str]], conversation: str) -> list[str]:
    return [text for to, text in sent if to == conversation]


async def test_a_failed_send_is_sent_after_a_restart(
    database: Database, survey_folder: Path, clock: Clock
) -> None:
    settings = await hals_reply_left_in_the_outbox(database, survey_folder, clock)

    async with running(adapters=[MemoryAdapter], **settings) as runtime:
        await runtime.outbox.caught_up()
        resent = runtime.adapters[0].sent
        assert len(resent) == 1
        assert resent[0].message.text.startswith("City library feedback")
    assert database.rows("SELECT count(*) FROM outbox") == [(0,)]


async def test_replies_a_platform_refuses_for_good_are_given_up_and_staff_told_once(
    database: Database, survey_folder: Path, clock: Clock
) -> None:
    told: list[str] = []

    async def refusing(outbound: Outbound) -> None:
        if outbound.conversation_id != "staff-room":
            raise Refused("invalid_blocks", lasting=True)
        told.append(outbound.message.text)

    async with running(
        database=database.location,
        survey_folder=survey_folder,
        clock=clock,
        environ=database.environ,
        adapters=[lambda handler: MemoryAdapter(handler, on_send=refusing)],
        staff_channel="memory:staff-room",
    ) as runtime:
        for person in ("hal", "ida"):
            await runtime.adapters[0].push(person, "library")
        await runtime.outbox.resend_unsent()
    assert told == [
        "A reply to someone on memory could not be delivered (memory said invalid_blocks)"
        " and will not be tried again. 'survey status' counts such replies."
    ]  # once, for two replies
    assert database.rows("SELECT count(*) FROM outbox WHERE dead_at IS NOT NULL") == [(2,)]


async def test_pseudonym_key_file_is_private_and_stable(
    tmp_path: Path, survey_folder: Path
) -> None:
    settings = {"database": tmp_path / "civicbot.db", "survey_folder": survey_folder, "environ": {}}
    for _ in range(2):
        async with running(adapters=[MemoryAdapter], **settings) as runtime:
            await runtime.adapters[0].push("ida", "library", event_id=f"e{_}")
    key_file = tmp_path / "civicbot.db.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert Database(tmp_path / "civicbot.db", {}).rows("SELECT count(*) FROM participants") == [
        (1,)
    ]


async def test_group_messages_are_not_taken_as_answers(
    runtime: Runtime, chat: MemoryAdapter, database: Database
) -> None:
    await chat.push("jan", "library", is_direct=False)
    assert chat.sent == []
    assert database.rows("SELECT count(*) FROM participants") == [(0,)]


async def test_replies_that_failed_are_sent_by_the_outbox_sweep(
    database: Database, survey_folder: Path, clock: Clock
) -> None:
    platform_up = asyncio.Event()
    delivered: list[str] = []

    async def flaky(outbound) -> None:
        if not platform_up.is_set():
            raise ConnectionError("platform down")
        delivered.append(outbound.message.text)

    async with running(
        database=database.location,
        survey_folder=survey_folder,
        adapters=[lambda handler: MemoryAdapter(handler, on_send=flaky)],
        clock=clock,
        environ=database.environ,
        send_retry_delays=(),
    ) as runtime:
        await runtime.adapters[0].push("ida", "library")
        assert delivered == []
        platform_up.set()
        clock.advance(59)
        await runtime.scheduler.settled()
        assert delivered == []  # the sweep comes a minute after the start
        clock.advance(1)
        await runtime.scheduler.settled()
    assert delivered[0].startswith("City library feedback")


async def test_a_sweep_right_after_a_reply_went_out_does_not_send_it_again(
    runtime: Runtime, chat: MemoryAdapter
) -> None:
    await chat.push("ann", "library")
    delivered = len(chat.sent)
    assert await runtime.outbox.resend_unsent() == 0  # its removal may still be pending
    assert len(chat.sent) == delivered


async def test_delivered_replies_are_not_remembered_once_they_left_the_outbox(
    runtime: Runtime, chat: MemoryAdapter
) -> None:
    """Memory follows the replies on their way, not every reply of the last minutes."""
    await asyncio.gather(*(say_all(chat, f"u{n}", "library", "yes", "1") for n in range(20)))
    assert len(chat.sent) == 60
    await runtime.store.flushed()  # the removals ride with the next commit
    assert runtime.outbox.awaiting_removal == 0
    assert await runtime.store.unsent() == []
