"""`my data` shows what is stored from someone; `forget me` erases it, in any language."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

from conftest import Clock, command, coordinated

from adapters.memory import MemoryAdapter
from bot.app import Runtime


def count(tmp_path: Path, table: str) -> int:
    with sqlite3.connect(tmp_path / "civicbot.db") as connection:
        return connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


async def say_all(chat: MemoryAdapter, user: str, *texts: str) -> None:
    for text in texts:
        await chat.push(user, text)


async def test_my_data_shows_the_answers_as_given_and_the_survey_goes_on(
    chat: MemoryAdapter,
) -> None:
    await say_all(chat, "anna", "library", "yes", "1", "1, 2", "skip")
    await chat.push("anna", "my data")
    shown = chat.sent[-1].message.text
    assert shown.splitlines()[:4] == [
        "This is what we have stored from you:",
        "City library feedback (answering):",
        "  How often do you visit the library? Every week",
        "  Which services have you used this year? Borrowing books, E-books and audiobooks",
    ]
    assert "Type forget me to erase all of it." in shown
    await chat.push("anna", "4")
    assert "What is one thing we could do better?" in chat.sent[-1].message.text


async def test_my_data_in_finnish_with_nothing_stored(chat: MemoryAdapter) -> None:
    await chat.push("bo", "minun tietoni", locale="fi")
    assert chat.sent[-1].message.text == "Meillä ei ole sinulta tallennettuja vastauksia."


async def test_forget_me_erases_everything_linked_to_the_person(
    runtime: Runtime, chat: MemoryAdapter, tmp_path: Path
) -> None:
    await say_all(chat, "cai", "library", "yes", "1", "1", "5", "Longer hours", "2")
    await say_all(chat, "dee", "library", "yes", "2")
    await chat.push("cai", "Forget me")
    assert chat.sent[-1].message.text.startswith("Everything you told us has been erased")
    await runtime.outbox.settle()
    assert (count(tmp_path, "responses"), count(tmp_path, "answers")) == (1, 1)  # dee's
    assert (count(tmp_path, "participants"), count(tmp_path, "addresses")) == (1, 1)
    assert count(tmp_path, "conversations") == 1
    assert count(tmp_path, "outbox") == 0
    await chat.push("cai", "my data")
    assert chat.sent[-1].message.text == "We have no answers stored from you."


async def test_forget_me_in_swedish_keeps_anonymous_answers(
    chat: MemoryAdapter, tmp_path: Path
) -> None:
    await chat.push("eva", "homecare", locale="sv")
    await say_all(chat, "eva", "ja", "1", "3", "8", "5", "skip", "skip")
    answers_before = count(tmp_path, "answers")
    await chat.push("eva", "glöm mig", locale="sv")
    assert chat.sent[-1].message.text.startswith("Allt du berättat har raderats")
    assert count(tmp_path, "answers") == answers_before
    assert count(tmp_path, "addresses") == 0


async def test_forget_me_delivered_twice_erases_and_answers_once(chat: MemoryAdapter) -> None:
    await say_all(chat, "fay", "library", "yes")
    await chat.push("fay", "forget me", event_id="forget-1")
    sent = len(chat.sent)
    await chat.push("fay", "forget me", event_id="forget-1")
    assert len(chat.sent) == sent


async def test_after_forget_me_someone_can_start_afresh(
    chat: MemoryAdapter, tmp_path: Path
) -> None:
    await say_all(chat, "gus", "library", "yes", "1", "forget me", "library")
    assert "Do you want to take part?" in chat.sent[-1].message.text
    assert count(tmp_path, "responses") == 1


async def test_anonymous_answers_carry_only_the_hour_not_the_moment(
    chat: MemoryAdapter, tmp_path: Path, clock: Clock
) -> None:
    clock.now = 1_700_000_123.456  # 22:15:23 UTC
    await chat.push("eva", "homecare")
    await say_all(chat, "eva", "yes", "1", "3")
    with sqlite3.connect(tmp_path / "civicbot.db") as connection:
        times = connection.execute(
            "SELECT started_at, updated_at FROM responses"
            " UNION SELECT answered_at, answered_at FROM answers"
        ).fetchall()
        [(conversation_time,)] = connection.execute(
            "SELECT updated_at FROM conversations"
        ).fetchall()
    assert times == [(1_700_002_800.0, 1_700_002_800.0)]  # 23:00, the next full hour
    assert conversation_time == clock.now  # kept exact: it names the person, not the answers


async def test_an_attacker_with_the_database_cannot_line_anonymous_answers_up_with_people(
    tmp_path: Path, survey_folder: Path, clock: Clock
) -> None:
    """30 people invited to an anonymous survey answer in another order than invited; who
    wrote which response is known to the test by each one's visits_per_week."""
    invited = list(range(30))
    answering = random.Random(5).sample(invited, 30)
    async with coordinated(tmp_path, survey_folder, clock) as runtime:
        chat = runtime.adapters[0]
        await command(chat, "survey start home-care for " + " ".join(f"@p{n}" for n in invited))
        assert count(tmp_path, "responses") == 0  # invitations make none: first answers do
        for n in answering:
            clock.now += 7
            await say_all(chat, f"p{n}", "yes", "1", str(n))
    with sqlite3.connect(tmp_path / "civicbot.db") as connection:
        rows = connection.execute(
            "SELECT r.id, r.started_at, r.completed_at, a.value FROM responses r"
            " JOIN answers a ON a.response_id = r.id WHERE a.question_id = 'visits_per_week'"
        ).fetchall()
    assert sorted(int(value) for *_, value in rows) == invited
    assert {started % 3600 for _, started, _, _ in rows} == {0}  # the hour, not the moment
    # Lining the responses up, by id or by time, with the order in which people were
    # invited or answered (which the coordinator and the conversations know) pairs about
    # as many right as chance would: one.
    for attempt in (sorted(rows), sorted(rows, key=lambda row: (row[1], row[0]))):
        guessed = [int(value) for *_, value in attempt]
        for order in (invited, answering):
            assert sum(g == person for g, person in zip(guessed, order, strict=True)) <= 8
