"""Matrix through matrix-nio, against a real Synapse homeserver on 127.0.0.1: citizens,
coordinators, restarts and crashes."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from homeserver import Account, Synapse
from matrix_harness import HEARING_TIMEOUT, Person, bot_event_types, bot_runtime, stored_answers
from nio.crypto import decrypt_attachment


@pytest.mark.parametrize("encrypted", [False, True], ids=["plain", "encrypted"])
async def test_a_citizen_completes_a_survey_in_a_direct_room(
    synapse: Synapse,
    bot_account: Account,
    people: dict,
    tmp_path: Path,
    survey_folder: Path,
    encrypted: bool,
) -> None:
    anna = people["anna"]
    async with bot_runtime(tmp_path, survey_folder, synapse, bot_account):
        room = await anna.open_dm(bot_account.user_id, encrypted=encrypted)
        greeting = (await anna.hear(room, bot_account.user_id, 1))[0]
        assert greeting["body"].startswith("These surveys are open to you.")
        script = ["library", "yes", "1", "1, 3", "4", "Longer <b>hours</b> @room", "2"]
        for number, text in enumerate(script, start=2):
            await anna.say(room, text)
            await anna.hear(room, bot_account.user_id, number)
        said = anna.heard[room]
        assert said[-1]["body"] == "Thank you! Library staff read every answer."
        assert all(m["msgtype"] == "m.text" and m["m.mentions"] == {} for m in said)
    assert dict(stored_answers(tmp_path))["improve"] == json.dumps("Longer <b>hours</b> @room")
    types = bot_event_types(synapse, anna.account, room, bot_account.user_id)
    assert types == ["m.room.encrypted" if encrypted else "m.room.message"] * 8


async def test_messages_sent_while_the_bot_was_stopped_are_answered_once_in_order(
    synapse: Synapse, bot_account: Account, people: dict, tmp_path: Path, survey_folder: Path
) -> None:
    citizens = [people[name] for name in ("anna", "ben", "cara")]
    rooms = {}
    async with bot_runtime(tmp_path, survey_folder, synapse, bot_account):
        for person in citizens:
            rooms[person] = await person.open_dm(bot_account.user_id)
            await person.hear(rooms[person], bot_account.user_id, 1)
            await person.say(rooms[person], "library")
            await person.hear(rooms[person], bot_account.user_id, 2)
    # the bot is down; each says more than a sync timeline holds, so the gap is fetched
    later = ["yes", "1", "1, 3", "4", "fine", "2"] + [f"hello {n}" for n in range(8)]
    for person in citizens:
        for text in later:
            await person.say(rooms[person], text)
    async with bot_runtime(tmp_path, survey_folder, synapse, bot_account):
        for person in citizens:
            said = await person.hear(rooms[person], bot_account.user_id, 2 + len(later))
            assert said[2]["body"].startswith("How often do you visit the library?")
            assert said[7]["body"] == "Thank you! Library staff read every answer."
            assert all(m["body"].startswith("These surveys are open") for m in said[8:])
        for person in citizens:
            await person.hears_nothing_more(rooms[person], bot_account.user_id, 2 + len(later))
    with sqlite3.connect(tmp_path / "civicbot.db") as connection:
        statuses = connection.execute("SELECT status FROM responses").fetchall()
        assert statuses == [("completed",)] * 3
        assert len(stored_answers(tmp_path)) == 3 * 5


@pytest.mark.usefixtures("one_person_digests")  # one respondent's figures, quote and chart
async def test_a_coordinator_starts_a_survey_and_posts_a_harmless_digest_in_a_staff_room(
    synapse: Synapse, bot_account: Account, people: dict, tmp_path: Path, survey_folder: Path
) -> None:
    coord, ben, anna = people["coord"], people["ben"], people["anna"]
    staff_room = await coord.create_room(
        name="Library staff", invite=[bot_account.user_id, ben.account.user_id]
    )
    await ben.client.join(staff_room)
    async with bot_runtime(tmp_path, survey_folder, synapse, bot_account, coordinator=coord):
        await coord.sees_joined(staff_room, bot_account.user_id)
        await coord.say(staff_room, "!survey start library for everyone")
        reply = (await coord.hear(staff_room, bot_account.user_id, 1))[0]
        assert reply["msgtype"] == "m.notice"
        assert reply["body"].startswith("Run 1 of 'City library feedback' started for everyone")
        dm = await anna.open_dm(bot_account.user_id)
        await anna.hear(dm, bot_account.user_id, 1)
        attack = '@room <a href="https://evil.example">pill</a> <b>loud</b>'
        for number, text in enumerate(["library", "yes", "1", "1", "5", attack, "2"], start=2):
            await anna.say(dm, text)
            await anna.hear(dm, bot_account.user_id, number)
        await coord.say(staff_room, "!survey digest 1")
        notices = await coord.hear(staff_room, bot_account.user_id, 8)
    digest = next(n for n in notices if n["body"].startswith("Digest: City library feedback"))
    figures = next(n for n in notices if n["body"].startswith("Full figures of run 1"))
    chart, table = (n for n in notices if "url" in n)
    assert (chart["msgtype"], chart["filename"]) == ("m.image", "library-services-run-1.png")
    assert chart["body"].startswith("Bar charts of run 1 of City library feedback")  # alt text
    assert (table["msgtype"], table["filename"]) == ("m.file", "library-services-run-1-figures.csv")
    assert table["body"] == table["filename"]
    assert digest["msgtype"] == figures["msgtype"] == "m.notice"
    assert "Responses: 1 (1 new), completed 1 (100%)" in digest["body"]
    assert "mean 5.0, median 5" in figures["body"]  # below the fold: an event of its own
    for event in (digest, figures):
        assert event["m.mentions"] == {}
        assert '<a href="https://evil.example">' not in event["formatted_body"]
        assert "<b>" not in event["formatted_body"]
    assert "&lt;a href=&quot;https://evil.example&quot;&gt;" in figures["formatted_body"]


async def test_a_kill_in_the_middle_of_a_batch_loses_and_doubles_nothing(
    synapse: Synapse, tmp_path: Path, survey_folder: Path
) -> None:
    """20 people send 200 messages while the bot is down; it is killed mid-batch and
    restarted; each message is answered exactly once, in order."""
    bot_account = synapse.register("killbot")
    people = [
        Person(synapse, synapse.register(f"kill{n}"), tmp_path / "clients" / str(n))
        for n in range(20)
    ]
    rooms = {}
    async with bot_runtime(tmp_path, survey_folder, synapse, bot_account):
        for person in people:
            await person.catch_up()
            rooms[person] = await person.open_dm(bot_account.user_id)
        for person in people:
            await person.hear(rooms[person], bot_account.user_id, 1)  # the greeting
    messages = ["library", "yes", "1", "1, 3", "4", "fine", "2", "hello", "hi", "hey"]
    for person in people:
        for text in messages:
            await person.say(rooms[person], text)

    def start_child() -> subprocess.Popen:
        account = bot_account
        return subprocess.Popen(
            [
                sys.executable,
                str(Path(__file__).parent / "matrix_child.py"),
                str(tmp_path / "civicbot.db"),
                str(survey_folder),
                synapse.url,
                account.user_id,
                account.access_token,
                account.device_id,
            ],
            stdout=subprocess.PIPE,
            stderr=open(tmp_path / "child.log", "a"),
        )

    child = start_child()
    async with asyncio.timeout(60):
        while sum(len(p.heard[rooms[p]]) for p in people) < 20 + 60:
            await asyncio.gather(*(p.listen(bot_account.user_id) for p in people))
    child.kill()  # SIGKILL, mid-batch
    child.wait()
    child = start_child()
    try:
        for person in people:
            said = await person.hear(rooms[person], bot_account.user_id, 1 + len(messages))
            assert said[1]["body"].startswith("City library feedback")
            assert said[2]["body"].startswith("How often do you visit the library?")
            assert said[7]["body"] == "Thank you! Library staff read every answer."
        for person in people:
            await person.hears_nothing_more(rooms[person], bot_account.user_id, 11)
    finally:
        child.send_signal(signal.SIGTERM)
        child.wait(timeout=30)
        for person in people:
            await person.close()
    with sqlite3.connect(tmp_path / "civicbot.db") as connection:
        assert connection.execute(
            "SELECT status, count(*) FROM responses GROUP BY 1"
        ).fetchall() == [("completed", 20)]
        assert len(stored_answers(tmp_path)) == 20 * 5


async def test_members_of_a_room_are_invited_in_encrypted_direct_rooms(
    synapse: Synapse, bot_account: Account, people: dict, tmp_path: Path, survey_folder: Path
) -> None:
    coord, anna, ben, cara = (people[n] for n in ("coord", "anna", "ben", "cara"))
    readers = [anna, ben, cara]
    room = await coord.create_room(
        name="Readers' panel", invite=[bot_account.user_id, *(p.account.user_id for p in readers)]
    )
    for person in readers:
        await person.client.join(room)
    async with bot_runtime(tmp_path, survey_folder, synapse, bot_account, coordinator=coord):
        cara_dm = await cara.open_dm(bot_account.user_id, encrypted=True)  # she has one already
        await cara.hear(cara_dm, bot_account.user_id, 1)
        await coord.sees_joined(room, bot_account.user_id)
        await coord.say(room, f"!survey start library for members of {room}")
        reply = (await coord.hear(room, bot_account.user_id, 1))[0]
        assert "invited 3" in reply["body"]
        said = await cara.hear(cara_dm, bot_account.user_id, 2)
        assert said[1]["body"].startswith("City library feedback")
        for person in (anna, ben):
            async with asyncio.timeout(HEARING_TIMEOUT):
                while not person.heard.keys() - {room}:
                    await person.listen(bot_account.user_id)
            [dm] = person.heard.keys() - {room}
            assert person.heard[dm][0]["body"].startswith("City library feedback")
            await person.say(dm, "yes")
            said = await person.hear(dm, bot_account.user_id, 2)
            assert said[1]["body"].startswith("How often do you visit the library?")
            types = bot_event_types(synapse, person.account, dm, bot_account.user_id)
            assert set(types) == {"m.room.encrypted"}


async def test_the_bot_syncs_again_after_the_homeserver_restarts(
    synapse: Synapse,
    bot_account: Account,
    people: dict,
    tmp_path: Path,
    survey_folder: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="adapters.matrix")
    anna = people["anna"]
    async with bot_runtime(tmp_path, survey_folder, synapse, bot_account):
        room = await anna.open_dm(bot_account.user_id, encrypted=True)
        await anna.hear(room, bot_account.user_id, 1)
        await asyncio.to_thread(synapse.restart)
        await anna.say(room, "library")
        said = await anna.hear(room, bot_account.user_id, 2)
        assert said[1]["body"].startswith("City library feedback")
    assert "matrix: healthy: " in caplog.text  # at the first sync, then every ten minutes
    assert "matrix sync failed" in caplog.text
    assert "matrix: syncing again after" in caplog.text


async def test_a_coordinator_can_use_commands_in_a_direct_room_with_the_bot(
    synapse: Synapse, bot_account: Account, people: dict, tmp_path: Path, survey_folder: Path
) -> None:
    coord = people["coord"]
    async with bot_runtime(tmp_path, survey_folder, synapse, bot_account, coordinator=coord):
        dm = await coord.open_dm(bot_account.user_id, encrypted=True)
        await coord.hear(dm, bot_account.user_id, 1)
        await coord.say(dm, "!survey start library for everyone")
        said = await coord.hear(dm, bot_account.user_id, 2)
        assert said[1]["body"].startswith("Run 1 of 'City library feedback' started for everyone")
        await coord.say(dm, "!survey export 1")
        said = await coord.hear(dm, bot_account.user_id, 4)
    upload, told = said[2:4]
    assert (upload["msgtype"], upload["body"]) == ("m.file", "library-services-run-1.csv")
    assert "url" not in upload  # an encrypted room gets the file encrypted
    assert told["body"] == "Run 1: 0 responses in library-services-run-1.csv."
    secret = upload["file"]
    downloaded = await coord.client.download(secret["url"])
    csv_text = decrypt_attachment(
        downloaded.body, secret["key"]["k"], secret["hashes"]["sha256"], secret["iv"]
    )
    assert csv_text.decode("utf-8-sig").startswith(
        "response,status,complete,completed_at,language,channel,given_by,reached_by,assisted_by,visits"
    )


async def test_a_room_named_by_its_alias_is_invited_and_people_must_be_named_by_id(
    synapse: Synapse, bot_account: Account, people: dict, tmp_path: Path, survey_folder: Path
) -> None:
    coord, dora = people["coord"], people["anna"]
    server = coord.account.user_id.split(":", 1)[1]
    alias_name = f"panel-{secrets.token_hex(3)}"
    room = await coord.create_room(
        name="Panel", alias=alias_name, invite=[bot_account.user_id, dora.account.user_id]
    )
    await dora.client.join(room)
    async with bot_runtime(tmp_path, survey_folder, synapse, bot_account, coordinator=coord):
        await coord.sees_joined(room, bot_account.user_id)
        await coord.say(room, f"!survey start library for members of #{alias_name}:{server}")
        assert "invited 1" in (await coord.hear(room, bot_account.user_id, 1))[0]["body"]
        await coord.say(room, "!survey start home-care for dora")
        reply = (await coord.hear(room, bot_account.user_id, 2))[1]["body"]
        assert reply == (
            "Not started: dora: Matrix users are named by their id, like @ann:example.org."
        )
