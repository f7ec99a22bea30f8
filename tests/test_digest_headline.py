"""The digest staff read first: one screen of what changed and what matters, the full
figures below a fold, abuse held for a moderator, groups not heard, in their language."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import STAFF_ROOM, Clock, command, coordinated

from adapters.memory import MemoryAdapter
from bot.events import Outbound

MODERATOR = "memory:mod"
IMPROVEMENTS = [
    "Longer opening hours on Sundays please",
    "The opening hours are too short for working people",
    "More Finnish audiobooks and e-books",
    "Opening hours in the evening would help",
    "Quieter study rooms",
    "The opening hours on Saturday are too short",
]


async def answers(chat: MemoryAdapter, user: str, satisfaction: int, improve: str, age: str):
    """One person answers the library survey: weekly, borrowing books, then as given."""
    for text in ["library", "yes", "1", "1", str(satisfaction), improve, age]:
        await chat.push(user, text)


def digest_of(chat: MemoryAdapter) -> Outbound:
    return [m for m in chat.to(STAFF_ROOM) if m.message.text.startswith("Digest:")][-1]


async def test_a_digest_of_thirty_respondents_fits_on_one_screen_above_the_fold(
    tmp_path: Path, survey_folder: Path, clock: Clock
) -> None:
    async with coordinated(tmp_path, survey_folder, clock) as runtime:
        chat = runtime.adapters[0]
        await command(chat, "survey start library for everyone")
        for n in range(30):
            await answers(chat, f"p{n}", 3 + n % 3, IMPROVEMENTS[n % 6], str(1 + n % 4))
        await command(chat, "survey digest 1")
        posted = digest_of(chat).message
    headline = posted.text.splitlines()
    assert len(headline) <= 15
    assert headline[1] == "Responses: 30 (30 new), completed 30 (100%)"
    listed = headline[headline.index("Findings:") + 1 :]
    findings = listed[: listed.index("")] if "" in listed else listed
    assert 1 <= len(findings) <= 5
    assert findings[0].startswith(
        "• [F1] 30 of 30 (100%) chose “Every week”"
    )  # the most people first
    assert any("answers mention “opening hours”, e.g. “" in line for line in findings)
    assert posted.details.startswith("Full figures of run 1\n")
    assert "Overall, how satisfied are you with the library? (30 answered" in posted.details


async def test_the_headline_says_how_satisfaction_moved_since_the_last_digest(
    tmp_path: Path, survey_folder: Path, clock: Clock
) -> None:
    async with coordinated(tmp_path, survey_folder, clock) as runtime:
        chat = runtime.adapters[0]
        await command(chat, "survey start library for everyone")
        for n in range(6):
            await answers(chat, f"early{n}", 3, "Fine", "2")
        await command(chat, "survey digest 1")
        clock.now += 3600
        for n in range(6):
            await answers(chat, f"late{n}", 5, "Fine", "2")
        await command(chat, "survey digest 1")
        headline = digest_of(chat).message.text
    assert (
        "Since the last digest: Overall, how satisfied are you with the library? 3.0 → 4.0."
        in headline
    )
    assert "Responses: 12 (6 new), completed 12 (100%)" in headline


async def test_a_threat_is_held_for_a_moderator_who_keeps_or_releases_it(
    tmp_path: Path, survey_folder: Path, clock: Clock
) -> None:
    roles = {"moderator": [MODERATOR], "analyst": ["memory:ana"]}
    async with coordinated(tmp_path, survey_folder, clock, roles=roles) as runtime:
        chat = runtime.adapters[0]
        await command(chat, "survey start library for everyone")
        await answers(chat, "angry", 1, "I will kill that carer Liisa if she comes again", "2")
        await answers(chat, "cross", 2, "The service is bloody awful, call 040 123 4567", "2")
        for n in range(4):
            await answers(chat, f"p{n}", 4, "More audiobooks please", "2")
        await command(chat, "survey digest 1")
        posted = digest_of(chat).message
        assert "1 answers held for review (threats or slurs): `survey review 1`" in posted.text
        assert "kill" not in posted.text + posted.details
        assert "“The service is bloody awful, call [phone]”" in posted.details  # criticism stays

        refused = await command(chat, "survey review 1", user="ana")
        assert "kill" not in refused
        listing = await command(chat, "survey review 1", user="mod")
        assert "Held for review in run 1: 1 to decide, 0 decided." in listing
        assert "(threat, to decide): “I will kill that carer Liisa if she comes again”" in listing
        reference = listing.splitlines()[1].split()[0]
        assert await command(chat, "survey review 1 keep ZZZZZ", user="mod") == (
            "Nothing held in run 1 is called ZZZZZ. 'survey review 1' lists what is."
        )
        kept = await command(chat, f"survey review 1 keep {reference}", user="mod")
        assert kept == f"{reference} kept out of run 1's digests; the digest still counts it."
        released = await command(chat, f"survey review 1 release #{reference}", user="mod")
        assert released.startswith(f"{reference} released")
        clock.now += 60
        await command(chat, "survey digest 1")
        again = digest_of(chat).message
        audit = await command(chat, "survey audit 1")
    assert "held for review" not in again.text
    assert "“I will kill that carer Liisa if she comes again”" in again.details
    assert f"review 1 keep {reference}" in audit
    assert f"review 1 release #{reference}" in audit


async def test_staff_read_the_digest_in_finnish_when_that_is_their_language(
    tmp_path: Path, survey_folder: Path, clock: Clock
) -> None:
    async with coordinated(tmp_path, survey_folder, clock, staff_language="fi") as runtime:
        chat = runtime.adapters[0]
        await command(chat, "survey start library for everyone")
        for n in range(5):
            await answers(chat, f"p{n}", 4, "Pidemmät aukioloajat", "2")
        await command(chat, "survey digest 1")
        posted = [m for m in chat.to(STAFF_ROOM) if m.message.text.startswith("Kooste:")][-1]
    assert posted.message.text.startswith("Kooste: Kaupunginkirjaston palautekysely (kierros 1)")
    assert "Vastauksia: 5 (5 uutta), valmiina 5 (100 %)" in posted.message.text
    assert "keskimäärin 4,0 asteikolla 1–5 (5 vastasi)" in posted.message.text
    assert posted.message.details.startswith("Kierroksen 1 kaikki luvut")


@pytest.fixture
def expecting_older_people(survey_folder: Path) -> None:
    """The library survey expects its answers from the city's residents by age group."""
    library = survey_folder / "library-services.yaml"
    shares = 'expected: {question: age_group, shares: {under_18: 15, "18_39": 30, '
    shares += '"40_64": 30, over_65: 25}}\n'
    library.write_text(shares + library.read_text(encoding="utf-8"), "utf-8")


@pytest.mark.usefixtures("expecting_older_people")
async def test_a_group_heard_far_less_than_expected_and_a_silent_language_are_named(
    tmp_path: Path, survey_folder: Path, clock: Clock
) -> None:
    async with coordinated(tmp_path, survey_folder, clock) as runtime:
        chat = runtime.adapters[0]
        await command(chat, "survey start library for everyone")
        for n in range(10):
            await answers(chat, f"young{n}", 4, "Fine", "2")
        for n in range(6):
            await answers(chat, f"mid{n}", 4, "Fine", "3")
        await command(chat, "survey digest 1")
        headline = digest_of(chat).message.text
    assert (
        "Heard less than expected: 65 or over, 25% of those the survey is for, fewer than 5 "
        "of the answers." in headline
    )
    assert "Under 18, 15%" in headline
    assert "18 to 39" not in headline.split("Flagged:")[1]
    assert "Nobody has completed it in Finnish yet." in headline


async def test_a_scheduled_digest_that_cannot_go_out_is_told_where_it_was_scheduled(
    tmp_path: Path, survey_folder: Path, clock: Clock
) -> None:
    async with coordinated(tmp_path, survey_folder, clock, send_retry_delays=()) as runtime:
        chat = runtime.adapters[0]
        await chat.push(
            "coord",
            "survey start library for everyone",
            command=True,
            is_direct=False,
            conversation="archived-room",
        )
        reply = await command(chat, "survey schedule 1 0 * * * *")
        assert reply.startswith("Schedule 1: the digest of run 1")
        chat.refusing.add("archived-room")
        clock.now += 3600
        await runtime.scheduler.settled()
        told = chat.to(STAFF_ROOM)[-1]
    assert told.visible_to == "coord"
    assert told.message.text.startswith(
        "Schedule 1: The digest of run 1 could not be posted to its channel yet"
    )


async def test_a_schedule_more_often_than_hourly_is_refused(
    tmp_path: Path, survey_folder: Path, clock: Clock
) -> None:
    async with coordinated(tmp_path, survey_folder, clock) as runtime:
        chat = runtime.adapters[0]
        await command(chat, "survey start library for everyone")
        reply = await command(chat, "survey schedule 1 */15 * * * *")
    assert "fires every 15 minutes; digests come at most hourly" in reply
