"""What staff did about each finding, kept from digest to digest, and "you said, we did"
for everyone who took part."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from conftest import STAFF_ROOM, Clock, command, coordinated

from adapters.memory import MemoryAdapter


@pytest.fixture
async def chat(tmp_path: Path, survey_folder: Path, clock: Clock) -> AsyncIterator[MemoryAdapter]:
    async with coordinated(tmp_path, survey_folder, clock) as runtime:
        chat = runtime.adapters[0]
        await command(chat, "survey start library for everyone")
        yield chat


async def answers(chat: MemoryAdapter, user: str, improve: str) -> None:
    for text in ["library", "yes", "1", "1", "4", improve, "2"]:
        await chat.push(user, text)


def findings_of(chat: MemoryAdapter) -> list[str]:
    digest = [m for m in chat.to(STAFF_ROOM) if m.message.text.startswith("Digest:")][-1]
    return [line for line in digest.message.text.splitlines() if line.startswith("• [F")]


async def test_a_finding_keeps_its_number_and_shows_what_was_done_in_later_digests(
    chat: MemoryAdapter, clock: Clock
) -> None:
    for n in range(5):
        await answers(chat, f"p{n}", "Longer opening hours on Sundays")
    await command(chat, "survey digest 1")
    hours = next(line for line in findings_of(chat) if "mention “opening hours”" in line)
    number = hours.split("]")[0].removeprefix("• [F")
    acted = await command(chat, f'survey act 1 F{number} planned "Sundays 12-16 from March"')
    assert acted == f"F{number} of run 1 is planned: Sundays 12-16 from March"
    for n in range(5, 8):
        await answers(chat, f"p{n}", "Opening hour on Sunday would be nice")
    clock.now += 3600
    await command(chat, "survey digest 1")
    again = next(line for line in findings_of(chat) if "mention “opening hour" in line)
    assert again.startswith(f"• [F{number}] 8 answers mention “opening hour")
    assert again.endswith("(planned: Sundays 12-16 from March)")
    listed = await command(chat, "survey outcomes 1")
    assert f"  F{number} (8 people)" in listed
    assert "| planned: Sundays 12-16 from March" in listed


async def test_an_unknown_finding_or_status_is_explained(chat: MemoryAdapter) -> None:
    assert (await command(chat, "survey act 1 F9 done")).startswith(
        "Run 1 has no finding F9. Digests number their findings"
    )
    assert "needs a finding's number and what became of it" in (
        await command(chat, "survey act 1 F1 finished")
    )


async def test_you_said_we_did_is_drafted_then_sent_once_to_everyone_who_took_part(
    chat: MemoryAdapter,
) -> None:
    for n in range(5):
        await answers(chat, f"p{n}", "Longer opening hours on Sundays")
    await chat.push("p4", "unsubscribe")
    nothing = await command(chat, "survey tell 1")
    assert nothing.startswith("Nothing to tell from run 1 yet")
    await command(chat, "survey digest 1")
    hours = next(line for line in findings_of(chat) if "mention “opening hours”" in line)
    number = hours.split("]")[0].removeprefix("• [F")
    await command(chat, f"survey act 1 F{number} done Open on Sundays 12-16 since March")
    draft = await command(chat, "survey tell 1")
    assert draft.startswith("Draft for run 1, to 4 people who took part (nothing sent;")
    assert "You took part in “City library feedback”. You said, and we did:" in draft
    assert ": done, Open on Sundays 12-16 since March" in draft
    assert not any("You said, and we did" in m.message.text for m in chat.to("dm-p0"))
    assert await command(chat, "survey tell 1 send") == "Told 4 people who took part in run 1."
    assert await command(chat, "survey tell 1 send") == (
        "Told 0 people who took part in run 1. 4 had it already."
    )
    for n in range(4):
        told = [m for m in chat.to(f"dm-p{n}") if "You said, and we did" in m.message.text]
        assert len(told) == 1
    assert not any("You said, and we did" in m.message.text for m in chat.to("dm-p4"))


def told_to(chat: MemoryAdapter, user: str) -> list[str]:
    """The follow-ups the person got, in whichever language."""
    said = ("You said, and we did:", "Te sanoitte, me teimme:")
    return [m.message.text for m in chat.to(f"dm-{user}") if any(s in m.message.text for s in said)]


async def five_heard_and_f1_done(chat: MemoryAdapter) -> None:
    """p0…p4 ask for Sunday opening; the digest numbers it F1, and it is done."""
    await command(chat, "survey start library for everyone")
    for n in range(5):
        await answers(chat, f"p{n}", "Longer opening hours on Sundays")
    await command(chat, "survey digest 1")
    await command(chat, "survey act 1 F1 done Open on Sundays")


async def five_in_english_and_one_in_finnish(chat: MemoryAdapter) -> None:
    """Six take part, "suomi" in Finnish; the digest numbers their finding F1."""
    for n in range(5):
        await answers(chat, f"p{n}", "Longer opening hours on Sundays")
    for text in ["library", "language fi", "kyllä", "1", "1", "4", "Pidemmät aukioloajat", "2"]:
        await chat.push("suomi", text)
    await command(chat, "survey digest 1")


async def test_the_follow_up_goes_in_each_persons_language_where_staff_gave_the_note_in_it(
    chat: MemoryAdapter,
) -> None:
    await five_in_english_and_one_in_finnish(chat)
    acted = await command(
        chat, 'survey act 1 F1 done "Open on Sundays 12-16" fi: "Auki sunnuntaisin 12-16"'
    )
    assert acted == "F1 of run 1 is done: Open on Sundays 12-16 (also in fi)"
    draft = await command(chat, "survey tell 1")
    assert "[en, 5 people]" in draft
    assert "[fi, 1 people]" in draft
    await command(chat, "survey tell 1 send")
    assert told_to(chat, "suomi") == [
        "Osallistuit kyselyyn ”Kaupunginkirjaston palautekysely”. Te sanoitte, me teimme:\n"
        "• Auki sunnuntaisin 12-16 (tehty)"
    ]
    english = told_to(chat, "p0")
    assert len(english) == 1
    assert english[0].endswith(": done, Open on Sundays 12-16")


async def test_without_a_note_in_their_language_people_get_the_survey_s_first_language(
    chat: MemoryAdapter,
) -> None:
    await five_in_english_and_one_in_finnish(chat)
    await command(chat, "survey act 1 F1 planned Sunday opening from March")
    await command(chat, "survey tell 1 send")
    told = told_to(chat, "suomi")
    assert len(told) == 1
    assert told[0].startswith("You took part in “City library feedback”.")


async def test_nobody_gets_the_follow_up_twice_even_after_event_ids_are_forgotten(
    tmp_path: Path, survey_folder: Path, clock: Clock
) -> None:
    async with coordinated(tmp_path, survey_folder, clock) as runtime:
        chat = runtime.adapters[0]
        await five_heard_and_f1_done(chat)
        told = await command(chat, "survey tell 1 send")
        assert told == "Told 5 people who took part in run 1."
        clock.advance(40 * 24 * 3600)
        assert await runtime.store.forget_old_events(clock()) > 0
        draft = await command(chat, "survey tell 1")
        assert draft.startswith("Draft for run 1, to 0 people who took part (5 more were sent it")
        assert await command(chat, "survey tell 1 send") == (
            "Told 0 people who took part in run 1. 5 had it already."
        )
        assert all(len(told_to(chat, f"p{n}")) == 1 for n in range(5))


async def test_after_sending_the_draft_says_how_many_follow_ups_are_still_on_their_way(
    tmp_path: Path, survey_folder: Path, clock: Clock
) -> None:
    async with coordinated(tmp_path, survey_folder, clock, send_retry_delays=()) as runtime:
        chat = runtime.adapters[0]
        await five_heard_and_f1_done(chat)
        chat.refusing.update({"dm-p0", "dm-p1"})  # their platform is down for now
        await command(chat, "survey tell 1 send")
        draft = await command(chat, "survey tell 1")
        assert draft.startswith(
            "Draft for run 1, to 0 people who took part (5 more were sent it already,"
            " 2 of them still on its way)"
        )
