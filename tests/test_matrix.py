"""Matrix through matrix-nio, against a real Synapse homeserver on 127.0.0.1."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import secrets
import signal
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from homeserver import Account, Synapse
from nio import (
    AsyncClient,
    AsyncClientConfig,
    RoomCreateResponse,
    RoomMessage,
    RoomPreset,
    RoomSendResponse,
)
from nio.crypto import decrypt_attachment

from adapters.matrix import MatrixAdapter
from adapters.matrix_device import MatrixLogin, MatrixLoginError, keep_keys
from adapters.matrix_rooms import ENCRYPTED_ROOM
from bot.app import running


@pytest.fixture(scope="module")
def synapse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synapse]:
    server = Synapse(tmp_path_factory.mktemp("synapse"))
    server.start()
    yield server
    server.stop()


# The test's own clients must not miss replies in a limited sync (the bot handles gaps).
WIDE = {"room": {"timeline": {"limit": 200}}}
HEARING_TIMEOUT = 30


class Person:
    """Someone using a Matrix client that can encrypt, as Element does: sends messages
    and reads what the bot says (decrypted where the room is encrypted)."""

    def __init__(self, synapse: Synapse, account: Account, store: Path) -> None:
        self.account = account
        store.mkdir(parents=True, exist_ok=True)
        self.client = AsyncClient(
            synapse.url,
            account.user_id,
            device_id=account.device_id,
            store_path=str(store),
            config=AsyncClientConfig(encryption_enabled=True, store_sync_tokens=False),
        )
        self.client.restore_login(account.user_id, account.device_id, account.access_token)
        self.since: str | None = None
        self.heard: dict[str, list[dict]] = {}

    async def catch_up(self) -> None:
        response = await self.client.sync(timeout=0, since=self.since)
        self.since = response.next_batch
        await keep_keys(self.client)

    async def open_dm(self, bot_user: str, *, encrypted: bool = False) -> str:
        return await self.create_room(
            is_direct=True,
            invite=[bot_user],
            preset=RoomPreset.trusted_private_chat,
            initial_state=[ENCRYPTED_ROOM] if encrypted else [],
        )

    async def create_room(self, **settings) -> str:
        """A new room, once this client's sync knows it (so it can send there)."""
        created = await self.client.room_create(**settings)
        assert isinstance(created, RoomCreateResponse), created
        async with asyncio.timeout(HEARING_TIMEOUT):
            while created.room_id not in self.client.rooms:
                await self.listen("")
        return created.room_id

    async def say(self, room_id: str, text: str) -> None:
        sent = await self.client.room_send(
            room_id,
            "m.room.message",
            {"msgtype": "m.text", "body": text},
            ignore_unverified_devices=True,
        )
        assert isinstance(sent, RoomSendResponse), sent

    async def hear(self, room_id: str, sender: str, count: int) -> list[dict]:
        """Wait until `count` messages from `sender` have arrived in the room in total."""
        heard = self.heard.setdefault(room_id, [])
        async with asyncio.timeout(HEARING_TIMEOUT):
            while len(heard) < count:
                await self.listen(sender)
        return heard

    async def hears_nothing_more(self, room_id: str, sender: str, so_far: int) -> None:
        """Prove that no further reply was on its way: one more message, and its answer
        is the very next one (the bot answers a room's messages in order)."""
        await self.say(room_id, "anything more?")
        heard = await self.hear(room_id, sender, so_far + 1)
        assert len(heard) == so_far + 1, heard[so_far:]
        assert heard[-1]["body"].startswith("There is no survey for you right now.")

    async def sees_joined(self, room_id: str, user_id: str) -> None:
        """Wait until `user_id` has joined the room, as this client's syncs show it."""
        async with asyncio.timeout(HEARING_TIMEOUT):
            while user_id not in self.client.rooms[room_id].users:
                await self.listen("")

    async def listen(self, sender: str) -> None:
        """One sync: join invitations, note what `sender` said, in every room."""
        response = await self.client.sync(timeout=1000, since=self.since, sync_filter=WIDE)
        self.since = response.next_batch
        await keep_keys(self.client)
        for room_id in response.rooms.invite:
            await self.client.join(room_id)
        for room_id, room in response.rooms.join.items():
            for event in room.timeline.events:
                if isinstance(event, RoomMessage) and event.sender == sender:
                    self.heard.setdefault(room_id, []).append(event.source["content"])

    async def close(self) -> None:
        await self.client.close()


def bot_runtime(
    tmp_path: Path,
    survey_folder: Path,
    synapse: Synapse,
    bot: Account,
    *,
    login: MatrixLogin | None = None,
    unreadable_after: float = 60.0,
    coordinator: Person | None = None,
):
    coordinators = {f"matrix:{coordinator.account.user_id}"} if coordinator else set()
    return running(
        database=tmp_path / "civicbot.db",
        survey_folder=survey_folder,
        adapters=[
            lambda handler: MatrixAdapter(
                handler,
                homeserver=synapse.url,
                login=login or MatrixLogin(bot.user_id, bot.device_id, bot.access_token),
                state_folder=tmp_path,
                sync_timeout_ms=1000,
                unreadable_after=unreadable_after,
            )
        ],
        environ={"CIVICBOT_PSEUDONYM_KEY": "k"},
        coordinators=frozenset(coordinators),
    )


@pytest.fixture
def bot(synapse: Synapse, request: pytest.FixtureRequest) -> Account:
    """The bot's account; only the adapter under test logs in to its device."""
    return synapse.register(f"bot{_suffix(request)}")


def _suffix(request: pytest.FixtureRequest) -> str:
    return hashlib.sha1(request.node.name.encode()).hexdigest()[:10]  # a name per test


@pytest.fixture
async def people(
    synapse: Synapse, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[dict]:
    prefix = _suffix(request)
    stores = tmp_path_factory.mktemp("clients")
    made = {
        name: Person(synapse, synapse.register(f"{name}{prefix}"), stores / name)
        for name in ("anna", "ben", "cara", "coord")
    }
    for person in made.values():
        await person.catch_up()
    yield made
    for person in made.values():
        await person.close()


def stored_answers(tmp_path: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(tmp_path / "civicbot.db") as connection:
        return connection.execute("SELECT question_id, value FROM answers").fetchall()


@pytest.mark.parametrize("encrypted", [False, True], ids=["plain", "encrypted"])
async def test_a_citizen_completes_a_survey_in_a_direct_room(
    synapse: Synapse,
    bot: Account,
    people: dict,
    tmp_path: Path,
    survey_folder: Path,
    encrypted: bool,
) -> None:
    anna = people["anna"]
    async with bot_runtime(tmp_path, survey_folder, synapse, bot):
        room = await anna.open_dm(bot.user_id, encrypted=encrypted)
        greeting = (await anna.hear(room, bot.user_id, 1))[0]
        assert greeting["body"].startswith("There is no survey for you right now.")
        script = ["library", "yes", "1", "1, 3", "4", "Longer <b>hours</b> @room", "2"]
        for number, text in enumerate(script, start=2):
            await anna.say(room, text)
            await anna.hear(room, bot.user_id, number)
        said = anna.heard[room]
        assert said[-1]["body"] == "Thank you! Library staff read every answer."
        assert all(m["msgtype"] == "m.text" and m["m.mentions"] == {} for m in said)
    assert dict(stored_answers(tmp_path))["improve"] == json.dumps("Longer <b>hours</b> @room")
    types = bot_event_types(synapse, anna.account, room, bot.user_id)
    assert types == ["m.room.encrypted" if encrypted else "m.room.message"] * 8


async def test_messages_sent_while_the_bot_was_stopped_are_answered_once_in_order(
    synapse: Synapse, bot: Account, people: dict, tmp_path: Path, survey_folder: Path
) -> None:
    citizens = [people[name] for name in ("anna", "ben", "cara")]
    rooms = {}
    async with bot_runtime(tmp_path, survey_folder, synapse, bot):
        for person in citizens:
            rooms[person] = await person.open_dm(bot.user_id)
            await person.hear(rooms[person], bot.user_id, 1)
            await person.say(rooms[person], "library")
            await person.hear(rooms[person], bot.user_id, 2)
    # the bot is down; each says more than a sync timeline holds, so the gap is fetched
    later = ["yes", "1", "1, 3", "4", "fine", "2"] + [f"hello {n}" for n in range(8)]
    for person in citizens:
        for text in later:
            await person.say(rooms[person], text)
    async with bot_runtime(tmp_path, survey_folder, synapse, bot):
        for person in citizens:
            said = await person.hear(rooms[person], bot.user_id, 2 + len(later))
            assert said[2]["body"].startswith("How often do you visit the library?")
            assert said[7]["body"] == "Thank you! Library staff read every answer."
            assert all(m["body"].startswith("There is no survey") for m in said[8:])
        for person in citizens:
            await person.hears_nothing_more(rooms[person], bot.user_id, 2 + len(later))
    with sqlite3.connect(tmp_path / "civicbot.db") as connection:
        statuses = connection.execute("SELECT status FROM responses").fetchall()
        assert statuses == [("completed",)] * 3
        assert len(stored_answers(tmp_path)) == 3 * 5


async def test_a_coordinator_starts_a_survey_and_posts_a_harmless_digest_in_a_staff_room(
    synapse: Synapse, bot: Account, people: dict, tmp_path: Path, survey_folder: Path
) -> None:
    coord, ben, anna = people["coord"], people["ben"], people["anna"]
    staff_room = await coord.create_room(
        name="Library staff", invite=[bot.user_id, ben.account.user_id]
    )
    await ben.client.join(staff_room)
    async with bot_runtime(tmp_path, survey_folder, synapse, bot, coordinator=coord):
        await coord.sees_joined(staff_room, bot.user_id)
        await coord.say(staff_room, "!survey start library for everyone")
        reply = (await coord.hear(staff_room, bot.user_id, 1))[0]
        assert reply["msgtype"] == "m.notice"
        assert reply["body"].startswith("Run 1 of 'City library feedback' started for everyone")
        dm = await anna.open_dm(bot.user_id)
        await anna.hear(dm, bot.user_id, 1)
        attack = '@room <a href="https://evil.example">pill</a> <b>loud</b>'
        for number, text in enumerate(["library", "yes", "1", "1", "5", attack, "2"], start=2):
            await anna.say(dm, text)
            await anna.hear(dm, bot.user_id, number)
        await coord.say(staff_room, "!survey digest 1")
        notices = await coord.hear(staff_room, bot.user_id, 7)
    digest = next(n for n in notices if n["body"].startswith("Digest: City library feedback"))
    chart, table = (n for n in notices if "url" in n)
    assert (chart["msgtype"], chart["filename"]) == ("m.image", "library-services-run-1.png")
    assert chart["body"].startswith("Bar charts of run 1 of City library feedback")  # alt text
    assert (table["msgtype"], table["filename"]) == ("m.file", "library-services-run-1.csv")
    assert table["body"] == table["filename"]
    assert digest["msgtype"] == "m.notice"
    assert "Responses: 1, completed 1 (100%), 1 new since the last digest" in digest["body"]
    assert "mean 5.0, median 5" in digest["body"]  # the one rating given was 5
    assert digest["m.mentions"] == {}
    assert '<a href="https://evil.example">' not in digest["formatted_body"]
    assert "&lt;a href=&quot;https://evil.example&quot;&gt;" in digest["formatted_body"]
    assert "<b>" not in digest["formatted_body"]


async def test_a_kill_in_the_middle_of_a_batch_loses_and_doubles_nothing(
    synapse: Synapse, tmp_path: Path, survey_folder: Path
) -> None:
    """20 people send 200 messages while the bot is down; it is killed mid-batch and
    restarted; each message is answered exactly once, in order."""
    bot = synapse.register("killbot")
    people = [
        Person(synapse, synapse.register(f"kill{n}"), tmp_path / "clients" / str(n))
        for n in range(20)
    ]
    rooms = {}
    async with bot_runtime(tmp_path, survey_folder, synapse, bot):
        for person in people:
            await person.catch_up()
            rooms[person] = await person.open_dm(bot.user_id)
        for person in people:
            await person.hear(rooms[person], bot.user_id, 1)  # the greeting
    messages = ["library", "yes", "1", "1, 3", "4", "fine", "2", "hello", "hi", "hey"]
    for person in people:
        for text in messages:
            await person.say(rooms[person], text)

    def start_child() -> subprocess.Popen:
        account = bot
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
            await asyncio.gather(*(p.listen(bot.user_id) for p in people))
    child.kill()  # SIGKILL, mid-batch
    child.wait()
    child = start_child()
    try:
        for person in people:
            said = await person.hear(rooms[person], bot.user_id, 1 + len(messages))
            assert said[1]["body"].startswith("City library feedback")
            assert said[2]["body"].startswith("How often do you visit the library?")
            assert said[7]["body"] == "Thank you! Library staff read every answer."
        for person in people:
            await person.hears_nothing_more(rooms[person], bot.user_id, 11)
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


def bot_event_types(synapse: Synapse, reader: Account, room_id: str, bot_user: str) -> list[str]:
    """The types of the bot's events in a room, as the homeserver stores them."""
    page = synapse.call(reader, "GET", f"/rooms/{quote(room_id)}/messages?dir=b&limit=100")
    return [e["type"] for e in page["chunk"] if e["sender"] == bot_user and "state_key" not in e]


async def at_the_consent_question(person: Person, bot_user: str) -> str:
    """An encrypted DM with the bot in which `person` has started the library survey."""
    room = await person.open_dm(bot_user, encrypted=True)
    await person.hear(room, bot_user, 1)  # the greeting
    await person.say(room, "library")
    await person.hear(room, bot_user, 2)  # the consent question
    return room


def send_encrypted(synapse: Synapse, sender: Account, room_id: str, content: dict) -> None:
    """An m.room.encrypted event sent as it is, past the client's own encryption."""
    path = f"/rooms/{quote(room_id)}/send/m.room.encrypted/{secrets.token_hex(8)}"
    synapse.call(sender, "PUT", path, content)


async def test_a_message_the_bot_cannot_decrypt_is_asked_for_again_never_stored(
    synapse: Synapse, bot: Account, people: dict, tmp_path: Path, survey_folder: Path
) -> None:
    anna = people["anna"]
    async with bot_runtime(tmp_path, survey_folder, synapse, bot, unreadable_after=2):
        room = await at_the_consent_question(anna, bot.user_id)
        # Encrypted with a session whose key the bot never gets; "yes" waits behind it.
        keys = anna.client.olm.account.identity_keys
        unreadable = {
            "algorithm": "m.megolm.v1.aes-sha2",
            "sender_key": keys["curve25519"],
            "session_id": "a-session-never-shared",
            "ciphertext": "AwgAEnBsYWluIG5vbnNlbnNl",
            "device_id": anna.account.device_id,
        }
        send_encrypted(synapse, anna.account, room, unreadable)
        await anna.say(room, "yes")
        said = await anna.hear(room, bot.user_id, 4)
        assert said[2]["body"].startswith("I could not open your last message")
        assert said[3]["body"].startswith("How often do you visit the library?")
    with sqlite3.connect(tmp_path / "civicbot.db") as connection:
        assert connection.execute("SELECT count(*) FROM answers").fetchone() == (0,)
        assert connection.execute("SELECT status FROM responses").fetchall() == [("answering",)]


async def test_a_password_login_is_the_same_device_with_the_same_keys_at_every_start(
    synapse: Synapse, bot: Account, people: dict, tmp_path: Path, survey_folder: Path
) -> None:
    anna = people["anna"]
    login = MatrixLogin(bot.user_id, "CIVICBOT", password=bot.password)
    async with bot_runtime(tmp_path, survey_folder, synapse, bot, login=login):
        room = await at_the_consent_question(anna, bot.user_id)
    async with bot_runtime(tmp_path, survey_folder, synapse, bot, login=login):
        await anna.say(room, "yes")
        said = await anna.hear(room, bot.user_id, 3)
        assert said[2]["body"].startswith("How often do you visit the library?")
    devices = synapse.call(bot, "GET", "/devices")["devices"]
    assert sorted(d["device_id"] for d in devices) == sorted([bot.device_id, "CIVICBOT"])


async def test_a_token_of_another_device_is_refused_with_the_reason(
    synapse: Synapse, bot: Account, tmp_path: Path, survey_folder: Path
) -> None:
    login = MatrixLogin(bot.user_id, "CIVICBOT", access_token=bot.access_token)
    with pytest.raises(MatrixLoginError, match=f"belongs to device {bot.device_id}"):
        async with bot_runtime(tmp_path, survey_folder, synapse, bot, login=login):
            pass


async def test_a_wrong_password_is_refused_with_the_reason(
    synapse: Synapse, bot: Account, tmp_path: Path, survey_folder: Path
) -> None:
    login = MatrixLogin(bot.user_id, "CIVICBOT", password="not-the-password")
    with pytest.raises(MatrixLoginError, match=r"login of .* failed"):
        async with bot_runtime(tmp_path, survey_folder, synapse, bot, login=login):
            pass


async def test_members_of_a_room_are_invited_in_encrypted_direct_rooms(
    synapse: Synapse, bot: Account, people: dict, tmp_path: Path, survey_folder: Path
) -> None:
    coord, anna, ben, cara = (people[n] for n in ("coord", "anna", "ben", "cara"))
    readers = [anna, ben, cara]
    room = await coord.create_room(
        name="Readers' panel", invite=[bot.user_id, *(p.account.user_id for p in readers)]
    )
    for person in readers:
        await person.client.join(room)
    async with bot_runtime(tmp_path, survey_folder, synapse, bot, coordinator=coord):
        cara_dm = await cara.open_dm(bot.user_id, encrypted=True)  # she has one already
        await cara.hear(cara_dm, bot.user_id, 1)
        await coord.sees_joined(room, bot.user_id)
        await coord.say(room, f"!survey start library for members of {room}")
        reply = (await coord.hear(room, bot.user_id, 1))[0]
        assert "invited 3" in reply["body"]
        said = await cara.hear(cara_dm, bot.user_id, 2)
        assert said[1]["body"].startswith("City library feedback")
        for person in (anna, ben):
            async with asyncio.timeout(HEARING_TIMEOUT):
                while not person.heard.keys() - {room}:
                    await person.listen(bot.user_id)
            [dm] = person.heard.keys() - {room}
            assert person.heard[dm][0]["body"].startswith("City library feedback")
            await person.say(dm, "yes")
            said = await person.hear(dm, bot.user_id, 2)
            assert said[1]["body"].startswith("How often do you visit the library?")
            types = bot_event_types(synapse, person.account, dm, bot.user_id)
            assert set(types) == {"m.room.encrypted"}


async def test_a_message_whose_key_comes_late_is_answered_when_it_comes(
    synapse: Synapse, bot: Account, people: dict, tmp_path: Path, survey_folder: Path
) -> None:
    anna = people["anna"]
    async with bot_runtime(tmp_path, survey_folder, synapse, bot) as runtime:
        room = await at_the_consent_question(anna, bot.user_id)
        # "yes", encrypted with a new room key that reaches the bot only later
        olm = anna.client.olm
        [(_, key_for_bot)] = olm.share_group_session_parallel(room, [bot.user_id], True)
        olm.outbound_group_sessions[room].shared = True
        yes = {"type": "m.room.message", "content": {"msgtype": "m.text", "body": "yes"}}
        encrypted = olm.group_encrypt(room, yes)
        send_encrypted(synapse, anna.account, room, encrypted)
        async with asyncio.timeout(HEARING_TIMEOUT):
            while not runtime.adapters[0].waiting_for_keys():
                await anna.listen(bot.user_id)
        assert len(anna.heard[room]) == 2  # waiting for the key, not answering
        synapse.call(anna.account, "PUT", "/sendToDevice/m.room.encrypted/key", key_for_bot)
        said = await anna.hear(room, bot.user_id, 3)
        assert said[2]["body"].startswith("How often do you visit the library?")


async def test_the_bot_syncs_again_after_the_homeserver_restarts(
    synapse: Synapse,
    bot: Account,
    people: dict,
    tmp_path: Path,
    survey_folder: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="adapters.matrix")
    anna = people["anna"]
    async with bot_runtime(tmp_path, survey_folder, synapse, bot):
        room = await anna.open_dm(bot.user_id, encrypted=True)
        await anna.hear(room, bot.user_id, 1)
        await asyncio.to_thread(synapse.restart)
        await anna.say(room, "library")
        said = await anna.hear(room, bot.user_id, 2)
        assert said[1]["body"].startswith("City library feedback")
    assert "matrix: healthy: " in caplog.text  # at the first sync, then every ten minutes
    assert "matrix sync failed" in caplog.text
    assert "matrix: syncing again after" in caplog.text


async def test_a_coordinator_can_use_commands_in_a_direct_room_with_the_bot(
    synapse: Synapse, bot: Account, people: dict, tmp_path: Path, survey_folder: Path
) -> None:
    coord = people["coord"]
    async with bot_runtime(tmp_path, survey_folder, synapse, bot, coordinator=coord):
        dm = await coord.open_dm(bot.user_id, encrypted=True)
        await coord.hear(dm, bot.user_id, 1)
        await coord.say(dm, "!survey start library for everyone")
        said = await coord.hear(dm, bot.user_id, 2)
        assert said[1]["body"].startswith("Run 1 of 'City library feedback' started for everyone")
        await coord.say(dm, "!survey export 1")
        said = await coord.hear(dm, bot.user_id, 4)
    upload, told = said[2:4]
    assert (upload["msgtype"], upload["body"]) == ("m.file", "library-services-run-1.csv")
    assert "url" not in upload  # an encrypted room gets the file encrypted
    assert told["body"] == "Run 1: 0 responses in library-services-run-1.csv."
    secret = upload["file"]
    downloaded = await coord.client.download(secret["url"])
    csv_text = decrypt_attachment(
        downloaded.body, secret["key"]["k"], secret["hashes"]["sha256"], secret["iv"]
    )
    assert csv_text.decode().startswith("response,status,completed_at,visits")
