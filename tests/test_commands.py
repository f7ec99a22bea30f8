"""Coordinators run surveys by command; everyone else is refused, and all is audited."""

from __future__ import annotations

import csv
import io
import sqlite3
from collections.abc import AsyncIterator
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pytest
from conftest import STAFF_ROOM, Clock, command, coordinated

from adapters.memory import MemoryAdapter
from bot import export
from bot.app import Runtime
from bot.chart_drawer import ChartDrawer

pytestmark = pytest.mark.usefixtures("one_person_digests")


@pytest.fixture
async def runtime(tmp_path: Path, survey_folder: Path, clock: Clock) -> AsyncIterator[Runtime]:
    channels = {"#homecare-clients": ["ann", "ben", "coord"], "#empty": []}
    async with coordinated(tmp_path, survey_folder, clock, channels=channels) as started:
        yield started


@pytest.fixture
def chat(runtime: Runtime) -> MemoryAdapter:
    return runtime.adapters[0]


def rows(tmp_path: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(tmp_path / "civicbot.db") as connection:
        return connection.execute(sql).fetchall()


async def answer_library(chat: MemoryAdapter, user: str, *texts: str) -> None:
    for text in texts:
        await chat.push(user, text)


async def test_someone_who_is_not_a_coordinator_is_refused_politely(
    chat: MemoryAdapter, tmp_path: Path
) -> None:
    reply = await command(chat, "survey start library for everyone", user="mallory")
    assert reply.startswith("Sorry, survey commands are for staff.")
    assert rows(tmp_path, "SELECT count(*) FROM runs") == [(0,)]
    assert rows(tmp_path, "SELECT user_id, command, allowed FROM command_audit") == [
        ("mallory", "survey start library for everyone", 0)
    ]


async def test_every_allowed_command_is_audited_with_its_outcome(
    chat: MemoryAdapter, tmp_path: Path
) -> None:
    await command(chat, "survey help")
    await command(chat, "survey status 99")
    assert rows(tmp_path, "SELECT command, allowed, outcome FROM command_audit") == [
        ("survey help", 1, "Commands:"),
        ("survey status 99", 1, "There is no run 99. 'survey list' shows the runs."),
    ]


async def test_list_shows_surveys_and_runs(chat: MemoryAdapter) -> None:
    await command(chat, "survey start library for everyone")
    reply = await command(chat, "survey list")
    assert "  library-services: City library feedback (6 questions, keyword 'library')" in reply
    assert "  1: library-services, open, 0 people, 0 completed" in reply


async def test_start_for_everyone_is_the_run_the_keyword_joins(
    chat: MemoryAdapter, tmp_path: Path
) -> None:
    reply = await command(chat, "survey start library for everyone")
    assert reply == (
        "Run 1 of 'City library feedback' started for everyone who types 'library'. "
        "Digests go to this conversation."
    )
    await answer_library(chat, "dee", "library", "yes")
    assert rows(tmp_path, "SELECT run_id FROM responses") == [(1,)]
    again = await command(chat, "survey start library")
    assert again == "Run 1 of 'City library feedback' is already open for everyone."


async def test_start_for_named_people_invites_each_by_direct_message(
    chat: MemoryAdapter, tmp_path: Path
) -> None:
    reply = await command(chat, "survey start home-care for @ann @ben")
    assert reply.startswith("Run 1 of 'Home care feedback' started for @ann, @ben: invited 2.")
    for person in ("ann", "ben"):
        invitation = chat.to(f"dm-{person}")[-1]
        assert invitation.message.text.startswith("Home care feedback")
        assert "Do you agree" in invitation.message.text  # consent first
    await chat.push("ann", "yes")
    assert "Who is answering?" in chat.to("dm-ann")[-1].message.text


async def test_start_for_a_channel_invites_its_members_but_not_the_coordinator(
    chat: MemoryAdapter,
) -> None:
    reply = await command(chat, "survey start home-care for #homecare-clients")
    assert "for the members of #homecare-clients: invited 2." in reply
    assert chat.to("dm-coord") == []


async def test_inviting_someone_in_another_survey_does_not_interrupt_them(
    chat: MemoryAdapter,
) -> None:
    await answer_library(chat, "ann", "library", "yes")
    reply = await command(chat, "survey start home-care for @ann @ben")
    assert "invited 1, 1 in another survey now, not invited." in reply
    await chat.push("ann", "1")
    assert "Which services have you used" in chat.to("dm-ann")[-1].message.text


async def test_starting_twice_for_the_same_person_invites_once(chat: MemoryAdapter) -> None:
    await command(chat, "survey start home-care for @ann")
    await command(chat, "survey start home-care for @ann")
    assert len(chat.to("dm-ann")) == 1


@pytest.mark.parametrize(
    ("typed", "told"),
    [
        ("survey start parking", "There is no survey 'parking'. Surveys: branching, home-care"),
        ("survey start home-care for #nowhere", "I cannot see the members of #nowhere"),
        ("survey close 7", "There is no run 7."),
        ("survey schedule 1 every day", "needs a cron time of five fields"),
    ],
)
async def test_wrong_arguments_say_what_would_work(
    chat: MemoryAdapter, typed: str, told: str
) -> None:
    assert told in await command(chat, typed)


async def test_status_gives_counts_and_completion(chat: MemoryAdapter) -> None:
    await command(chat, "survey start library for everyone")
    await answer_library(chat, "dee", "library", "yes", "4", "1", "More hours", "skip")
    await answer_library(chat, "eve", "library", "no")
    await answer_library(chat, "fay", "library", "yes", "1")
    reply = await command(chat, "survey status 1")
    assert reply.startswith("Run 1: library-services, open, audience open.\n")
    assert "2 responses, 1 completed (50%). Last digest: none yet." in reply


async def test_remind_nudges_only_those_who_have_not_finished(
    chat: MemoryAdapter, clock: Clock
) -> None:
    await command(chat, "survey start home-care for @ann @ben")
    await answer_library(chat, "ann", "yes", "1", "3", "8", "5", "skip", "skip")  # finishes
    clock.advance(24 * 3600)
    reply = await command(chat, "survey remind 1")
    assert reply == "Reminded 1 of 1 people who have not finished run 1."
    assert chat.to("dm-ben")[-1].message.text.startswith("A reminder about “Home care feedback”")
    assert "reminder" not in chat.to("dm-ann")[-1].message.text
    await chat.push("ben", "continue")
    assert "Do you agree" in chat.to("dm-ben")[-1].message.text


async def test_a_closed_run_takes_no_more_answers(chat: MemoryAdapter, tmp_path: Path) -> None:
    await command(chat, "survey start library for everyone")
    await answer_library(chat, "dee", "library", "yes")
    reply = await command(chat, "survey close 1")
    assert reply.startswith("Run 1 closed: 1 responses, 0 completed.")
    await chat.push("dee", "1")
    assert chat.to("dm-dee")[-1].message.text.startswith("These surveys are open to you.")
    await chat.push("gil", "library")
    assert chat.to("dm-gil")[-1].message.text.startswith("These surveys are open to you.")
    assert rows(tmp_path, "SELECT count(*) FROM answers") == [(0,)]
    assert await command(chat, "survey close 1") == "Run 1 is already closed."


async def test_a_closed_survey_is_no_longer_offered_until_it_is_opened_again(
    chat: MemoryAdapter,
) -> None:
    await command(chat, "survey start library for everyone")
    await command(chat, "survey close 1")
    await chat.push("hal", "hello")
    offer = chat.to("dm-hal")[-1]
    assert "library" not in offer.message.text
    assert "library" not in [c.value for c in offer.message.choices]
    assert "homecare" in [c.value for c in offer.message.choices]
    await command(chat, "survey start library for everyone")
    await chat.push("hal", "library")
    assert chat.to("dm-hal")[-1].message.text.startswith("City library feedback")


async def test_digest_goes_to_the_staff_room_and_counts_only_new_responses_as_new(
    chat: MemoryAdapter, clock: Clock
) -> None:
    await command(chat, "survey start library for everyone")
    await answer_library(chat, "dee", "library", "yes", "1", "1", "5", "Open on Sundays", "2")
    clock.now += 60
    reply = await command(chat, "survey digest 1")
    assert reply == "Digest of run 1 posted: 1 new completed responses."
    posted = chat.to(STAFF_ROOM)[-4]
    assert posted.message.text.startswith("Digest: City library feedback (run 1), up to ")
    assert "\nResponses: 1 (1 new), completed 1 (100%)\n" in posted.message.text
    assert "“Open on Sundays”" in posted.message.details
    clock.now += 60
    await command(chat, "survey digest 1")
    assert "Responses: 1 (0 new)" in chat.to(STAFF_ROOM)[-4].message.text


async def test_a_digest_brings_the_chart_and_csv_its_survey_asks_for(
    chat: MemoryAdapter, clock: Clock
) -> None:
    await command(chat, "survey start library for everyone")
    await answer_library(chat, "dee", "library", "yes", "1", "1", "5", "Open on Sundays", "2")
    await command(chat, "survey digest 1")
    chart, table = (m.attachment for m in chat.to(STAFF_ROOM)[-3:-1])
    assert (chart.filename, chart.media_type) == ("library-services-run-1.png", "image/png")
    assert chart.content().startswith(b"\x89PNG")
    assert (table.filename, table.media_type) == (
        "library-services-run-1-figures.csv",
        "text/csv",
    )
    rows = list(csv.DictReader(io.StringIO(table.content().decode("utf-8-sig"))))
    satisfaction = [row for row in rows if row["question_id"] == "satisfaction"]
    assert [row["count"] for row in satisfaction] == ["0", "0", "0", "0", "1"]  # 1 to 5
    assert "response" not in rows[0]  # one row per answer option, none per person


async def test_a_chart_that_cannot_be_drawn_leaves_the_digest_posted_and_says_so(
    chat: MemoryAdapter, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(self: ChartDrawer, digest: object) -> None:
        raise BrokenProcessPool("the chart's process died")

    monkeypatch.setattr(ChartDrawer, "draw", broken)
    await command(chat, "survey start library for everyone")
    await answer_library(chat, "dee", "library", "yes", "1", "1", "5", "Open on Sundays", "2")
    reply = await command(chat, "survey digest 1")
    assert reply == (
        "Digest of run 1 posted: 1 new completed responses."
        " Its chart and table could not be made; the log says why."
    )
    assert chat.to(STAFF_ROOM)[-2].message.text.startswith("Digest: City library feedback")


async def test_a_long_export_tells_the_coordinator_how_far_it_got(
    chat: MemoryAdapter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(export, "PROGRESS_ROWS", 1)
    monkeypatch.setattr(export, "PROGRESS_SECONDS", 0.0)  # as if each row took seconds
    await command(chat, "survey start library for everyone")
    for person in ("dee", "eve", "fay"):
        await answer_library(chat, person, "library", "yes", "1", "3", "4", "Nothing", "3")
    await command(chat, "survey export 1")
    told = [m.message.text for m in chat.to(STAFF_ROOM)[-4:]]
    assert told == [
        "Run 1: exported 1 of 3…",
        "Run 1: exported 2 of 3…",
        "Run 1: exported 3 of 3…",
        "Run 1: 3 responses in library-services-run-1.csv.",
    ]


async def test_export_is_a_csv_with_one_column_per_question(chat: MemoryAdapter) -> None:
    await command(chat, "survey start library for everyone")
    await answer_library(chat, "dee", "library", "yes", "4", "1, 2", "Ramp", "skip")
    await answer_library(chat, "eve", "library", "yes", "1", "3", "4", "Nothing", "3")
    reply = await command(chat, "survey export 1")
    assert reply == "Run 1: 2 responses in library-services-run-1.csv."
    attachment = chat.to(STAFF_ROOM)[-1].attachment
    table = list(csv.reader(io.StringIO(attachment.content().decode("utf-8-sig"))))
    assert table[0] == [
        "response",
        "status",
        "complete",
        "completed_at",
        "language",
        "channel",
        "given_by",
        "reached_by",
        "assisted_by",
        "visits",
        "services",
        "satisfaction",
        "barriers",
        "improve",
        "age_group",
    ]
    # questions another branch passed by are empty; a skipped one says so
    # language, channel, who typed (no intermediary: not reached by one, typed by none)
    assert table[1][4:9] == ["en", "memory", "participant", "", ""]
    assert table[1][1:3] + table[1][9:] == [
        "completed",
        "completed",
        "Not at all",
        "",
        "",
        "Opening hours; It is too far away",
        "Ramp",
        "[skipped]",
    ]
    assert table[2][9:] == ["Every week", "Events and courses", "4", "", "Nothing", "40 to 64"]


async def test_staff_see_a_phone_number_as_phone_and_the_person_still_sees_their_own(
    chat: MemoryAdapter,
) -> None:
    await command(chat, "survey start library for everyone")
    said = "Longer hours please, call me on 040 123 4567"
    await answer_library(chat, "dee", "library", "yes", "1", "1", "5", said, "skip")
    await command(chat, "survey digest 1")
    digest = next(m for m in chat.to(STAFF_ROOM) if m.message.text.startswith("Digest:"))
    assert "“Longer hours please, call me on [phone]”" in digest.message.details
    assert "040 123 4567" not in digest.message.text + digest.message.details
    exported = await command(chat, "survey export 1")
    assert "040" not in chat.to(STAFF_ROOM)[-1].attachment.content().decode("utf-8-sig")
    assert exported.endswith(".csv.")
    await command(chat, "survey export 1 raw")
    raw = chat.to(STAFF_ROOM)[-1]
    assert raw.message.text.endswith("it holds whatever personal data people wrote; keep it safe.")
    assert said in raw.attachment.content().decode("utf-8-sig")
    await chat.push("dee", "my data")
    assert said in chat.to("dm-dee")[-1].message.text


async def test_staff_whose_language_is_finnish_get_the_help_in_finnish(
    tmp_path: Path, survey_folder: Path, clock: Clock
) -> None:
    async with coordinated(tmp_path, survey_folder, clock, staff_language="fi") as runtime:
        listed = await command(runtime.adapters[0], "survey help")
    assert listed.startswith("Komennot:\n  survey help  (nämä komennot)")
    assert "  survey reply REF TEXT | close  (vastaa lainauksen kirjoittajalle" in listed
