"""What the Matrix tests share: a real Synapse on 127.0.0.1 (one per test session;
every test registers accounts of its own), people with encrypting clients, and the
bot started against it."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import sqlite3
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

from adapters.matrix import MatrixAdapter
from adapters.matrix_device import MatrixLogin, keep_keys
from adapters.matrix_rooms import ENCRYPTED_ROOM
from bot.app import running


@pytest.fixture(scope="session")
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

    async def say(self, room_id: str, text: str, **content: object) -> str:
        """Send a message; its event id."""
        sent = await self.client.room_send(
            room_id,
            "m.room.message",
            {"msgtype": "m.text", "body": text, **content},
            ignore_unverified_devices=True,
        )
        assert isinstance(sent, RoomSendResponse), sent
        return sent.event_id

    async def edit(self, room_id: str, event_id: str, text: str) -> None:
        """Edit an earlier message as Element does: an m.replace with the new content."""
        new = {"msgtype": "m.text", "body": text}
        relation = {"rel_type": "m.replace", "event_id": event_id}
        await self.say(room_id, f"* {text}", **{"m.new_content": new, "m.relates_to": relation})

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
        assert heard[-1]["body"].startswith("These surveys are open to you.")

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
    bot_account: Account,
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
                login=login
                or MatrixLogin(
                    bot_account.user_id, bot_account.device_id, bot_account.access_token
                ),
                state_folder=tmp_path,
                sync_timeout_ms=1000,
                unreadable_after=unreadable_after,
            )
        ],
        environ={"CIVICBOT_PSEUDONYM_KEY": "k"},
        coordinators=frozenset(coordinators),
    )


@pytest.fixture
def bot_account(synapse: Synapse, request: pytest.FixtureRequest) -> Account:
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
