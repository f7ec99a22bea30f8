"""Guardrails on commands that message people: dry runs, a second coordinator's approval
for large audiences, a cap per hour; and roles that limit who may do what."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from conftest import STAFF_ROOM, Clock, at_once, command, coordinated

from adapters.memory import MemoryAdapter
from bot.app import Runtime
from bot.invitations import Guardrails

HOUR = 3600.0
TEAM = [f"person{n}" for n in range(6)]


@pytest.fixture
async def runtime(tmp_path: Path, survey_folder: Path, clock: Clock) -> AsyncIterator[Runtime]:
    async with coordinated(
        tmp_path,
        survey_folder,
        clock,
        channels={"#team": [*TEAM, "coord"], "#pair": ["ann", "ben"]},
        coordinators=frozenset({"memory:coord", "memory:second", "memory:third"}),
        roles={"analyst": ["memory:ana"]},
        guardrails=Guardrails(approval_above=5, messages_per_hour=8),
    ) as started:
        yield started


def direct_messages(chat: MemoryAdapter) -> int:
    return sum(o.conversation_id.startswith("dm-") for o in chat.sent)


async def test_a_dry_run_says_who_would_get_what_and_sends_nothing(
    runtime: Runtime, chat: MemoryAdapter
) -> None:
    await chat.push("ben", "unsubscribe")
    sent_before = direct_messages(chat)
    reply = await command(chat, "survey start home-care for #pair dry-run")
    assert reply.startswith(
        "Dry run, nothing sent: 'Home care feedback' for the members of #pair.\n"
        "Would invite 1 of 2; 1 opted out of invitations.\n"
        "What they get first, in English:\n  Home care feedback\n"
    )
    assert "What they get first, in svenska:\n  Respons på hemvården" in reply
    assert "  [Yes | No]" in reply
    assert direct_messages(chat) == sent_before
    assert await runtime.store.runs() == []


async def test_a_dry_run_with_an_unknown_channel_names_it(chat: MemoryAdapter) -> None:
    reply = await command(chat, "survey start home-care for #nowhere dry-run")
    assert reply == "I cannot see the members of #nowhere: no channel #nowhere"


async def test_a_large_audience_waits_for_a_second_coordinator(
    runtime: Runtime, chat: MemoryAdapter
) -> None:
    held = await command(chat, "survey start home-care for #team")
    assert held.startswith(
        "Held, nothing sent: this would message 6 people, more than 5 without a second"
        " coordinator. Another coordinator can type 'survey approve 1' within 60 minutes"
    )
    assert direct_messages(chat) == 0
    assert await command(chat, "survey approve 1") == (
        "Request 1 needs a second coordinator: you asked for it yourself."
    )
    approved = await command(chat, "survey approve 1", user="second")
    assert approved == (
        "Request 1 approved. Run 1 of 'Home care feedback' started for the members of #team:"
        " invited 6. Digests go to this conversation."
    )
    assert direct_messages(chat) == 6
    assert (await command(chat, "survey approve 1", user="second")).startswith(
        "Request 1 was approved already, by memory:second."
    )


async def test_two_coordinators_approving_at_once_start_one_run(
    runtime: Runtime, chat: MemoryAdapter
) -> None:
    await command(chat, "survey start home-care for #team")
    await at_once(chat, "survey approve 1", "second", "third")
    assert len(await runtime.store.runs()) == 1
    assert direct_messages(chat) == 6
    answers = [o.message.text for o in chat.to(STAFF_ROOM) if o.visible_to in ("second", "third")]
    assert sorted(a.split(".")[0] for a in answers) == [
        "Request 1 approved",
        "Request 1 was approved already",
    ]


async def test_an_approval_expires(chat: MemoryAdapter, clock: Clock) -> None:
    await command(chat, "survey start home-care for #team")
    clock.advance(2 * HOUR)
    assert await command(chat, "survey approve 1", user="second") == (
        "Request 1 has expired; ask for it again."
    )
    assert direct_messages(chat) == 0


async def test_invitations_beyond_the_hourly_cap_are_refused(
    chat: MemoryAdapter, clock: Clock
) -> None:
    await command(chat, "survey start home-care for @a1 @a2 @a3 @a4 @a5")
    reply = await command(chat, "survey start library-services for @b1 @b2 @b3 @b4")
    assert reply.startswith(
        "Not started: that is 4 invitations, and only 3 of this hour's 8 messages are left."
    )
    clock.advance(HOUR)
    assert "invited 4" in await command(chat, "survey start library-services for @b1 @b2 @b3 @b4")


async def test_a_reminder_dry_run_counts_and_shows_the_text(
    chat: MemoryAdapter, clock: Clock
) -> None:
    await command(chat, "survey start home-care for @ann @ben")
    clock.advance(24 * HOUR)
    reply = await command(chat, "survey remind 1 dry-run")
    assert reply.startswith(
        "Dry run, nothing sent: would remind 2 of 2 people who have not finished run 1.\n"
        "In English: A reminder about “Home care feedback”"
    )
    assert "reminder" not in chat.to("dm-ann")[-1].message.text


async def test_an_analyst_reads_but_does_not_start_or_close(chat: MemoryAdapter) -> None:
    await command(chat, "survey start library for everyone")
    assert (await command(chat, "survey status 1", user="ana")).startswith("Run 1:")
    assert await command(chat, "survey close 1", user="ana") == (
        "Sorry, 'survey close' needs the coordinator role; you have: analyst."
    )
    assert (await command(chat, "survey export 1 raw", user="ana")).startswith(
        "Sorry, 'survey export' needs the coordinator role"
    )


async def test_a_survey_file_can_give_a_role_for_its_own_runs_only(
    tmp_path: Path, survey_folder: Path, clock: Clock
) -> None:
    library = survey_folder / "library-services.yaml"
    library.write_text(
        'roles: {coordinator: ["memory:lib"]}\n' + library.read_text(encoding="utf-8"), "utf-8"
    )
    async with coordinated(tmp_path, survey_folder, clock) as runtime:
        chat = runtime.adapters[0]
        assert "started for everyone" in await command(
            chat, "survey start library for everyone", user="lib"
        )
        assert await command(chat, "survey start homecare for everyone", user="lib") == (
            "Sorry, 'survey start' needs the coordinator role; you have: no role for this survey."
        )


async def test_the_audit_shows_who_did_what_to_coordinators_only(chat: MemoryAdapter) -> None:
    await command(chat, "survey start library for everyone")
    await command(chat, "survey close 1", user="ana")
    await command(chat, "survey status 1", user="ana")
    audit = await command(chat, "survey audit 1")
    lines = audit.splitlines()
    assert lines[0] == "The audit of run 1, the newest 3 entries (at most 50):"
    assert lines[2].endswith(
        "memory:ana REFUSED: survey close 1 → Sorry, 'survey close' needs the coordinator"
        " role; you have: analyst."
    )
    assert (await command(chat, "survey audit", user="ana")).startswith(
        "Sorry, 'survey audit' needs the coordinator role"
    )
    assert await command(chat, "survey audit since 2099-01-01") == (
        "Nothing in the audit since 2099-01-01."
    )


async def test_two_coordinators_closing_a_run_at_once_are_told_what_happened(
    runtime: Runtime, chat: MemoryAdapter
) -> None:
    await command(chat, "survey start library for everyone")
    await at_once(chat, "survey close 1", "coord", "second")
    answers = [o.message.text for o in chat.to(STAFF_ROOM) if o.visible_to in ("coord", "second")]
    assert sorted(a.split(":")[0] for a in answers[-2:]) == [
        "Run 1 closed",
        "Run 1 is already closed.",
    ]


async def test_you_said_we_did_to_many_people_waits_for_a_second_coordinator(
    runtime: Runtime,
) -> None:
    chat = runtime.adapters[0]
    await command(chat, "survey start library for everyone")
    for n in range(6):
        for text in ["library", "yes", "1", "1", "4", "Longer opening hours on Sundays", "2"]:
            await chat.push(f"p{n}", text)
    await command(chat, "survey digest 1")
    await command(chat, "survey act 1 F1 done We asked everyone weekly")
    sent_before = direct_messages(chat)
    held = await command(chat, "survey tell 1 send")
    assert held.startswith("Held, nothing sent: this would message 6 people, more than 5")
    assert direct_messages(chat) == sent_before
    approved = await command(chat, "survey approve 1", user="second")
    assert approved == "Request 1 approved. Told 6 people who took part in run 1."
    assert direct_messages(chat) == sent_before + 6
