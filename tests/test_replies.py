"""Staff reply to the author of a quote by its reference, and never learn who it is."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from conftest import STAFF_ROOM, Clock, command, coordinated

from adapters.memory import MemoryAdapter

REFERENCE = re.compile(r"“([^”]+)” #([0-9A-Z]{5})")


@pytest.fixture
async def chat(tmp_path: Path, survey_folder: Path, clock: Clock) -> AsyncIterator[MemoryAdapter]:
    roles = {"replier": ["memory:rep"], "analyst": ["memory:ana"]}
    async with coordinated(tmp_path, survey_folder, clock, roles=roles) as runtime:
        chat = runtime.adapters[0]
        await command(chat, "survey start suggestions for everyone")
        yield chat


async def suggests(chat: MemoryAdapter, user: str, idea: str, may_reply: str) -> None:
    for text in ["suggest", idea, may_reply]:
        await chat.push(user, text)


async def references(chat: MemoryAdapter) -> dict[str, str]:
    """The digest's quotes with their references: quote -> reference."""
    await command(chat, "survey digest 1")
    digest = next(m for m in reversed(chat.to(STAFF_ROOM)) if m.message.text.startswith("Digest:"))
    return dict(REFERENCE.findall(digest.message.details))


async def test_the_author_of_a_quote_gets_the_reply_and_staff_never_learn_who(
    chat: MemoryAdapter,
) -> None:
    await suggests(chat, "ann", "Longer opening hours on Sundays", "yes")
    reference = (await references(chat))["Longer opening hours on Sundays"]
    told = await command(chat, f"survey reply #{reference} From March we open at noon.", user="rep")
    assert told == f"Sent to the author of #{reference}. You will not be told who they are."
    assert "ann" not in told
    reply = chat.to("dm-ann")[-1].message.text
    assert reply == (
        "A reply from Suggestion box to what you wrote (“Longer opening hours on Sundays”):"
        "\n\nFrom March we open at noon."
    )


async def test_a_reply_goes_out_once_when_the_command_is_delivered_twice(
    chat: MemoryAdapter,
) -> None:
    await suggests(chat, "ann", "More benches", "yes")
    reference = (await references(chat))["More benches"]
    for _ in range(2):
        await chat.push(
            "rep",
            f"survey reply {reference} Done.",
            command=True,
            is_direct=False,
            conversation=STAFF_ROOM,
            event_id="Ev-retried",
        )
    assert [m.message.text for m in chat.to("dm-ann")].count(
        "A reply from Suggestion box to what you wrote (“More benches”):\n\nDone."
    ) == 1
    answers = [m.message.text for m in chat.to(STAFF_ROOM) if m.message.text.startswith("Sent")]
    assert len(answers) == 1


async def test_nobody_is_replied_to_who_did_not_agree_or_took_it_back(
    chat: MemoryAdapter,
) -> None:
    await suggests(chat, "ben", "Fix the door", "no")
    await suggests(chat, "cat", "Quieter rooms", "yes")
    await chat.push("cat", "no replies")
    assert chat.to("dm-cat")[-1].message.text == (
        "Nobody will reply to you about your answers any more."
    )
    found = await references(chat)
    for quote in ("Fix the door", "Quieter rooms"):
        told = await command(chat, f"survey reply {found[quote]} Thanks", user="rep")
        assert told == f"The author of #{found[quote]} did not agree to replies (or took it back)."
    assert not any(m.message.text.startswith("A reply") for m in chat.sent)


async def test_a_forgotten_author_and_a_wrong_reference_are_told_apart_and_reveal_nothing(
    chat: MemoryAdapter,
) -> None:
    await suggests(chat, "dan", "A ramp at the back door", "yes")
    reference = (await references(chat))["A ramp at the back door"]
    await chat.push("dan", "forget me")
    told = await command(chat, f"survey reply {reference} We built it.", user="rep")
    assert told == f"The author of #{reference} asked to be forgotten: their answers are erased."
    wrong = await command(chat, "survey reply ZZZZZ Hello", user="rep")
    assert wrong.startswith("No digest quoted an answer #ZZZZZ (or it expired with its run).")
    assert (await command(chat, "survey reply ZZZZZ", user="rep")).startswith(
        "What should the reply to #ZZZZZ say?"
    )
    long = await command(chat, f"survey reply {reference} {'x' * 2001}", user="rep")
    assert long == "A reply can be at most 2,000 characters; this one is 2,001."


async def test_only_repliers_and_coordinators_may_reply(chat: MemoryAdapter) -> None:
    await suggests(chat, "eve", "Open on holidays", "yes")
    reference = (await references(chat))["Open on holidays"]
    refused = await command(chat, f"survey reply {reference} Hi", user="ana")
    assert "Sent" not in refused
    assert (await command(chat, f"survey reply {reference} Hi")).startswith("Sent")  # coordinator


async def test_my_data_says_whether_the_service_may_reply(chat: MemoryAdapter) -> None:
    await suggests(chat, "fay", "Coffee corner", "yes")
    await chat.push("fay", "my data")
    assert "May the service reply to you about these answers: Yes" in (
        chat.to("dm-fay")[-1].message.text
    )


async def test_quotes_of_an_anonymous_survey_carry_no_reference(
    tmp_path: Path, survey_folder: Path, clock: Clock
) -> None:
    async with coordinated(tmp_path, survey_folder, clock) as runtime:
        chat = runtime.adapters[0]
        await command(chat, "survey start home-care for everyone")
        for n in range(5):
            for text in [
                "homecare",
                "yes",
                "1",
                "3",
                "8",
                "4",
                f"Carer number {n} is kind",
                "skip",
            ]:
                await chat.push(f"p{n}", text)
        assert await references(chat) == {}


async def test_what_the_author_writes_back_reaches_staff_under_the_reference_until_closed(
    chat: MemoryAdapter,
) -> None:
    await suggests(chat, "gus", "Later closing time", "yes")
    reference = (await references(chat))["Later closing time"]
    await command(chat, f"survey reply {reference} We close at 20 from May.", user="rep")
    await chat.push("gus", "Great, thanks! Call me on 040 123 4567 if you need more")
    assert chat.to("dm-gus")[-1].message.text == (
        "Thank you. Your message was passed on to Suggestion box."
    )
    passed = chat.to(STAFF_ROOM)[-1].message.text
    written = "Great, thanks! Call me on [phone] if you need more"
    assert passed == f"#{reference}: its author writes back: “{written}”"
    await chat.push("gus", "I will kill you")
    assert chat.to(STAFF_ROOM)[-1].message.text == (
        f"#{reference}: its author wrote back; not shown, it reads as a threat or slur."
    )
    closed = await command(chat, f"survey reply {reference} close", user="rep")
    assert closed == f"#{reference} closed: what its author writes now is not passed on."
    told = len(chat.to(STAFF_ROOM))
    await chat.push("gus", "Hello again?")
    assert len(chat.to(STAFF_ROOM)) == told
    assert chat.to("dm-gus")[-1].message.text.startswith("These surveys are open to you.")


async def test_what_the_author_writes_back_reaches_staff_though_they_wrote_before_the_reply(
    chat: MemoryAdapter,
) -> None:
    await suggests(chat, "ida", "More benches", "yes")
    await chat.push("ida", "Hello, anyone there?")  # no thread yet: nothing is passed on
    told = len(chat.to(STAFF_ROOM))
    reference = (await references(chat))["More benches"]
    await command(chat, f"survey reply {reference} Two more in spring.", user="rep")
    await chat.push("ida", "Lovely, thank you")
    assert len(chat.to(STAFF_ROOM)) > told
    assert chat.to(STAFF_ROOM)[-1].message.text == (
        f"#{reference}: its author writes back: “Lovely, thank you”"
    )


async def test_a_reply_thread_ends_after_thirty_days(chat: MemoryAdapter, clock: Clock) -> None:
    await suggests(chat, "hal", "Sunday opening", "yes")
    reference = (await references(chat))["Sunday opening"]
    await command(chat, f"survey reply {reference} We are looking into it.", user="rep")
    clock.now += 31 * 86_400
    told = len(chat.to(STAFF_ROOM))
    await chat.push("hal", "Any news?")
    assert len(chat.to(STAFF_ROOM)) == told


async def test_a_reply_to_someone_whose_platform_is_down_waits_in_the_outbox(
    tmp_path: Path, survey_folder: Path, clock: Clock
) -> None:
    async with coordinated(tmp_path, survey_folder, clock, send_retry_delays=()) as runtime:
        chat = runtime.adapters[0]
        await command(chat, "survey start suggestions for everyone")
        await suggests(chat, "ida", "Braille signs", "yes")
        reference = (await references(chat))["Braille signs"]
        chat.refusing.add("dm-ida")
        told = await command(chat, f"survey reply {reference} Ordered for May.")
        assert told.startswith(f"Sent to the author of #{reference}.")  # stored: it will go
        assert not any(m.message.text.startswith("A reply") for m in chat.to("dm-ida"))
        chat.refusing.discard("dm-ida")
        await runtime.outbox.resend_unsent()
        assert chat.to("dm-ida")[-1].message.text.endswith("\n\nOrdered for May.")


async def test_a_reference_takes_three_replies_a_day_from_whoever_on_the_staff(
    chat: MemoryAdapter, clock: Clock
) -> None:
    await suggests(chat, "ann", "More benches", "yes")
    reference = (await references(chat))["More benches"]
    for n, user in enumerate(["rep", "coord", "rep"]):
        told = await command(chat, f"survey reply {reference} Update {n}", user=user)
        assert told.startswith("Sent to the author")
        clock.advance(3600)
    refused = await command(chat, f"survey reply {reference} Update 3", user="coord")
    assert refused == (
        f"#{reference} has had 3 replies in a day, the most it may: the next can go in 21 hours."
    )
    clock.advance(21 * 3600)
    assert (await command(chat, f"survey reply {reference} Update 4")).startswith("Sent")
    assert [m.message.text.split("\n\n")[-1] for m in chat.to("dm-ann")[-4:]] == [
        "Update 0",
        "Update 1",
        "Update 2",
        "Update 4",
    ]


async def test_two_staff_replying_at_once_both_reach_the_author_each_once(
    chat: MemoryAdapter,
) -> None:
    await suggests(chat, "ann", "More benches", "yes")
    reference = (await references(chat))["More benches"]
    await asyncio.gather(
        *(
            chat.push(
                user,
                f"survey reply {reference} From {user}",
                command=True,
                is_direct=False,
                conversation=STAFF_ROOM,
            )
            for user in ("rep", "coord")
        )
    )
    answers = [m.message.text for m in chat.to(STAFF_ROOM)[-2:]]
    assert all(a.startswith(f"Sent to the author of #{reference}.") for a in answers)
    replies = sorted(m.message.text.split("\n\n")[-1] for m in chat.to("dm-ann")[-2:])
    assert replies == ["From coord", "From rep"]
