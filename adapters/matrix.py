"""Matrix, through matrix-nio's AsyncClient: room events <-> core events, nothing else.

civicbot keeps its own sync checkpoint in a file beside the database and writes
it only after every event of a sync batch has been handed to the core and stored
(nio saves its token before callbacks run, so it is not used). A batch that came
back `limited` has a gap: it is fetched with /messages back to the previous
checkpoint. Events are deduplicated by event id in the core, so a batch replayed
after a crash changes nothing. Own events and `m.notice` messages (other bots)
are ignored; invites are joined; a room with more than two members is never a
citizen's direct conversation, and takes only `!survey` commands.

Syncs are fetched by one task and handled by another, in order. Handling can
take long (an invitation wave opens rooms and waits to learn them from the next
sync), and the client must keep syncing meanwhile.

End-to-end encryption: nio's crypto store lives beside the database, so a
restart is the same device with the same keys. Encrypted rooms are read and
answered encrypted (nio encrypts whenever the room is encrypted, and refuses to
send into a room it does not know). A message that cannot be decrypted yet is
held, with every later event of its room behind it, and the checkpoint stays
before it; it is retried after each sync as keys arrive. If its key never comes,
the person is asked to send it again. It is never handled as an empty answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import io
import itertools
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import aiohttp
from nio import (
    AsyncClient,
    AsyncClientConfig,
    EncryptionError,
    InviteMemberEvent,
    JoinedMembersResponse,
    LocalProtocolError,
    LoginResponse,
    MegolmEvent,
    MessageDirection,
    RoomCreateResponse,
    RoomMessagesResponse,
    RoomMessageText,
    RoomPreset,
    RoomSendResponse,
    SyncResponse,
    UploadResponse,
    WhoamiResponse,
)
from pydantic import Field

from bot.config import ConfigError, PlatformSection
from bot.events import Capabilities, Inbound, InboundHandler, Outbound
from bot.platforms import Configured, PlatformContext

log = logging.getLogger(__name__)

PLATFORM = "matrix"
COMMAND_PREFIX = "!survey"
EVENT_BYTES_LIMIT = 60_000  # under Matrix's 65,536-byte event limit, with room to spare
SEND_ATTEMPTS = 5
SYNC_TIMEOUT_MS = 30_000
BACKOFF_SECONDS = (1, 2, 5, 10, 30)
GAP_PAGE = 100
UNREADABLE_AFTER_SECONDS = 60.0  # how long a message waits for its decryption key
NEW_ROOM_WAIT_SECONDS = 30.0  # a room the bot just created appears with the next sync
SYNCS_AHEAD = 64  # fetched but not yet handled
HEALTH_EVERY_SECONDS = 600.0  # a line in the log that says syncing works
ENCRYPTED_ROOM = {
    "type": "m.room.encryption",
    "state_key": "",
    "content": {"algorithm": "m.megolm.v1.aes-sha2"},
}


class MatrixSettings(PlatformSection):
    homeserver: Annotated[str, Field(pattern=r"^https?://")] = "http://127.0.0.1:8008"
    user_id: Annotated[str, Field(pattern=r"^@[^:]+:.+$")] = "@civicbot:localhost"
    device_id: str = "CIVICBOT"  # the same device at every start
    # The bot logs in with an access token, or else with a password, from these variables.
    access_token_env: str = "MATRIX_ACCESS_TOKEN"
    password_env: str = "MATRIX_PASSWORD"
    # Optional: the key that encrypts the crypto store (matrix-crypto/ beside the database).
    store_key_env: str = "MATRIX_STORE_KEY"


SETTINGS = MatrixSettings


def from_settings(settings: MatrixSettings, context: PlatformContext) -> Configured:
    environ = context.environ
    login = MatrixLogin(
        user_id=settings.user_id,
        device_id=settings.device_id,
        access_token=environ.get(settings.access_token_env) or None,
        password=environ.get(settings.password_env) or None,
    )
    if not (login.access_token or login.password):
        raise ConfigError(
            f"matrix: set the environment variable {settings.access_token_env} "
            f"(an access token) or {settings.password_env} (the bot's password)"
        )
    store_key = environ.get(settings.store_key_env) or None

    def build(handler: InboundHandler) -> MatrixAdapter:
        return MatrixAdapter(
            handler,
            homeserver=settings.homeserver,
            login=login,
            state_folder=context.state_folder,
            store_key=store_key,
        )

    return Configured(build)


class MatrixLoginError(ConfigError):
    """The homeserver refused the bot's credentials; the message says which and why."""


@dataclass(frozen=True)
class MatrixLogin:
    """Who the bot is. An access token must belong to `device_id`; a password logs in
    to that device, so every start is the same device with the same keys."""

    user_id: str
    device_id: str
    access_token: str | None = None
    password: str | None = None


class MatrixAdapter:
    platform = PLATFORM
    capabilities = Capabilities(
        invites=True, file_upload=True, max_message_length=EVENT_BYTES_LIMIT
    )

    def __init__(
        self,
        handler: InboundHandler,
        *,
        homeserver: str,
        login: MatrixLogin,
        state_folder: Path,
        store_key: str | None = None,
        sync_timeout_ms: int = SYNC_TIMEOUT_MS,
        unreadable_after: float = UNREADABLE_AFTER_SECONDS,
    ) -> None:
        self._handler = handler
        self._login = login
        crypto_store = state_folder / "matrix-crypto"
        crypto_store.mkdir(mode=0o700, exist_ok=True)
        config = AsyncClientConfig(
            max_limit_exceeded=0,
            max_timeouts=3,  # then a request fails, and civicbot's own back-off takes over
            encryption_enabled=True,
            store_sync_tokens=False,  # civicbot's own checkpoint decides where syncing resumes
            **({"pickle_key": store_key} if store_key else {}),
        )
        self.client = AsyncClient(
            homeserver,
            login.user_id,
            device_id=login.device_id,
            store_path=str(crypto_store),
            config=config,
        )
        self._checkpoint_file = state_folder / "matrix-sync-checkpoint"
        self._sync_timeout_ms = sync_timeout_ms
        self._unreadable_after = unreadable_after
        self._next_since: str | None = None  # where the next sync starts
        self._fetched: asyncio.Queue[tuple[str | None, SyncResponse]] = asyncio.Queue(SYNCS_AHEAD)
        self._synced = asyncio.Event()  # replaced after each sync: waiters learn of new rooms
        self._first_sync_done = asyncio.Event()
        self._joined_at: dict[str, float] = {}  # rooms joined while running: skip older events
        self._opened: dict[str, str] = {}  # room the bot opened -> whom it invited there
        self._held: dict[str, list[Any]] = {}  # room -> events behind one not yet readable
        self._held_checkpoint: str | None = None  # the checkpoint before the oldest held event
        self._first_unreadable: dict[str, float] = {}  # event id -> when it was first seen
        self._tasks: list[asyncio.Task[None]] = []
        # Device lists, Olm sessions and room keys change one step at a time: a key query
        # landing while a room key is being shared would skip the devices it brought.
        self._keys_lock = asyncio.Lock()

    def describe(self) -> str:
        return f"Matrix: syncing as {self._login.user_id}"

    async def start(self) -> None:
        await self._log_in()
        if self._checkpoint_file.exists():
            self._next_since = self._checkpoint_file.read_text().strip() or None
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._fetch_forever()),
            loop.create_task(self._handle_forever()),
        ]

    async def _log_in(self) -> None:
        login = self._login
        if login.access_token:
            self.client.restore_login(login.user_id, login.device_id, login.access_token)
            who = await self.client.whoami()
            if not isinstance(who, WhoamiResponse):
                raise MatrixLoginError(f"Matrix refused the access token of {login.user_id}: {who}")
            if who.device_id and who.device_id != login.device_id:
                raise MatrixLoginError(
                    f"the Matrix access token belongs to device {who.device_id}, but "
                    f"matrix.device_id is {login.device_id}: they must match, so that the "
                    f"encryption keys stay with one device"
                )
        elif login.password:
            response = await self.client.login(login.password, device_name="civicbot")
            if not isinstance(response, LoginResponse):
                raise MatrixLoginError(f"Matrix login of {login.user_id} failed: {response}")
        else:
            raise MatrixLoginError("Matrix needs an access token or a password")
        if self.client.should_upload_keys:
            await self.client.keys_upload()
        log.info(
            "matrix: logged in as %s, device %s, encryption on",
            login.user_id,
            self.client.device_id,
        )

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.client.close()

    async def _fetch_forever(self) -> None:
        failures = 0
        last_health = -HEALTH_EVERY_SECONDS
        while True:
            since = self._next_since
            try:
                response = await self.client.sync(
                    timeout=self._sync_timeout_ms,
                    since=since,
                    # Every room's state once, also of quiet rooms: sending needs them.
                    full_state=not self._first_sync_done.is_set(),
                )
            except (aiohttp.ClientError, TimeoutError) as error:
                response = error  # the homeserver is down or the connection stalled
            if not isinstance(response, SyncResponse):
                delay = _backoff(failures)
                failures += 1
                log.warning("matrix sync failed (%s); retrying in %d s", response, delay)
                await asyncio.sleep(delay)
                continue
            if failures:
                log.info("matrix: syncing again after %d failed attempts", failures)
            failures = 0
            if time.monotonic() - last_health >= HEALTH_EVERY_SECONDS:
                last_health = time.monotonic()
                log.info(
                    "matrix: healthy: %d rooms, %d batches waiting, %d messages held for keys",
                    len(self.client.rooms),
                    self._fetched.qsize(),
                    sum(len(events) for events in self._held.values()),
                )
            self._next_since = response.next_batch
            try:
                async with self._keys_lock:
                    await keep_keys(self.client)
            except Exception:
                log.exception("matrix key maintenance failed; the next sync tries again")
            self._first_sync_done.set()
            self._synced.set()
            self._synced = asyncio.Event()
            await self._fetched.put((since, response))

    async def _handle_forever(self) -> None:
        while True:
            since, response = await self._fetched.get()
            for attempt in itertools.count():
                try:
                    await self._handle(response, since=since)
                    break
                except Exception:  # the batch is tried again: what was stored is deduplicated
                    delay = _backoff(attempt)
                    log.exception("handling a matrix sync batch failed; again in %d s", delay)
                    await asyncio.sleep(delay)
            if self._held and self._held_checkpoint is None:
                self._held_checkpoint = since
            elif not self._held:
                self._held_checkpoint = None
            self._save_checkpoint(self._held_checkpoint or response.next_batch)

    async def _handle(self, response: SyncResponse, *, since: str | None) -> None:
        for room_id, invited in response.rooms.invite.items():
            if any(isinstance(e, InviteMemberEvent) for e in invited.invite_state):
                self._joined_at[room_id] = time.time()
                joined = await self.client.join(room_id)
                log.info("joined %s: %s", room_id, type(joined).__name__)
        if since is None:
            return  # history from before the bot was running is not processed
        per_room = []
        for room_id in response.rooms.join.keys() | self._held.keys():
            joined = response.rooms.join.get(room_id)
            events = list(joined.timeline.events) if joined else []
            if joined and joined.timeline.limited:
                events = await self._with_gap(room_id, joined.timeline.prev_batch, since) + events
            per_room.append(self._room_events(room_id, events))
        # rooms are independent; within a room events go in order
        await asyncio.gather(*per_room)

    async def _with_gap(self, room_id: str, prev_batch: str | None, since: str) -> list[Any]:
        """The events a limited sync left out, back to the last checkpoint, oldest first."""
        missing: list[Any] = []
        start = prev_batch
        while start:
            page = await self.client.room_messages(
                room_id, start=start, end=since, direction=MessageDirection.back, limit=GAP_PAGE
            )
            if not isinstance(page, RoomMessagesResponse) or not page.chunk:
                break
            missing.extend(page.chunk)
            start = page.end
        return list(reversed(missing))

    async def _room_events(self, room_id: str, events: list[Any]) -> None:
        """Hand a room's events to the core in order. Held events go first, and stay
        held until handled, so a batch that fails is tried again whole."""
        events = self._held.get(room_id, []) + events
        joined_at = self._joined_at.get(room_id)
        room = self.client.rooms.get(room_id)
        if joined_at is not None and room is not None and room.member_count <= 2:
            await self._greet(room_id, room)
        for index, event in enumerate(events):
            if joined_at is not None and event.server_timestamp / 1000 < joined_at - 1:
                continue  # sent before the bot joined
            unreadable = False
            if isinstance(event, MegolmEvent):
                event = await self._decrypted(room_id, event)
                if isinstance(event, MegolmEvent):
                    waited = time.monotonic() - self._first_unreadable[event.event_id]
                    if waited < self._unreadable_after:
                        self._held[room_id] = events[index:]  # later events wait behind it
                        return
                    log.warning("matrix: gave up waiting for the key of %s", event.event_id)
                    unreadable = True
            inbound = self._inbound(room_id, room, event, unreadable=unreadable)
            if inbound is not None:
                await self._handler(inbound)
            self._first_unreadable.pop(event.event_id, None)
        self._held.pop(room_id, None)
        self._joined_at.pop(room_id, None)

    def _inbound(self, room_id: str, room: Any, event: Any, *, unreadable: bool) -> Inbound | None:
        """The core event for a room event; None for what civicbot does not read."""
        if not unreadable and (
            not isinstance(event, RoomMessageText) or event.sender == self.client.user_id
        ):
            return None  # m.notice (bots), own echoes, state and everything else
        direct = room is not None and room.member_count <= 2
        text = "" if unreadable else event.body
        command = text.strip().lower().startswith(COMMAND_PREFIX)
        if command:
            text = text.strip()[len(COMMAND_PREFIX) :].strip()
        elif not direct:
            return None  # chatter in a group room
        return Inbound(
            platform=PLATFORM,
            user_id=event.sender,
            conversation_id=room_id,
            is_direct=direct,
            text=text,
            event_id=event.event_id,
            timestamp=event.server_timestamp / 1000,
            command=command,
            unreadable=unreadable,
        )

    async def _decrypted(self, room_id: str, event: MegolmEvent) -> Any:
        """The event decrypted, or the same MegolmEvent while its key has not come."""
        event.room_id = event.room_id or room_id
        try:
            decrypted = self.client.decrypt_event(event)
        except EncryptionError:
            if event.event_id not in self._first_unreadable:
                self._first_unreadable[event.event_id] = time.monotonic()
                log.info("matrix: %s cannot be decrypted yet; asking for its key", event.event_id)
                with contextlib.suppress(LocalProtocolError):  # asked already for this session
                    await self.client.request_room_key(event)
            return event
        return decrypted

    async def _greet(self, room_id: str, room: Any) -> None:
        """A new direct room: let the core say where things stand (which surveys are open)."""
        other = next((u for u in room.users if u != self.client.user_id), None)
        if other is None:
            return
        await self._handler(
            Inbound(
                platform=PLATFORM,
                user_id=other,
                conversation_id=room_id,
                is_direct=True,
                text="",
                action="cmd:continue",
                event_id=f"joined:{room_id}",
                timestamp=time.time(),
            )
        )

    def _save_checkpoint(self, token: str) -> None:
        temporary = self._checkpoint_file.with_suffix(".tmp")
        with open(temporary, "w") as handle:
            handle.write(token)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self._checkpoint_file)

    async def send(self, outbound: Outbound) -> None:
        """Post as m.text to a citizen, as m.notice into group rooms; split long text.
        The outbox id is the transaction id, so a resend is the same event."""
        room = await self._known_room(outbound.conversation_id)
        notice = room.member_count > 2
        if outbound.attachment is not None:
            await self._send_file(room, outbound)
        message = outbound.message
        text = message.text
        if message.choices and message.numbered:
            text += "\n" + "\n".join(f"{i}. {c.label}" for i, c in enumerate(message.choices, 1))
        parts = _split(text, EVENT_BYTES_LIMIT // 4)  # HTML escaping at most quadruples
        for number, part in enumerate(parts):
            content = {
                "msgtype": "m.notice" if notice else "m.text",
                "body": part,
                "format": "org.matrix.custom.html",
                "formatted_body": html.escape(part).replace("\n", "<br>"),
                "m.mentions": {},  # nobody is pinged, whatever the text says
            }
            tx_id = f"civicbot-{outbound.outbox_id}-{number}" if outbound.outbox_id else None
            await self._send_event(outbound.conversation_id, content, tx_id)

    async def _send_file(self, room: Any, outbound: Outbound) -> None:
        """Upload the file (encrypted for an encrypted room) and post it as m.image or
        m.file; the text that introduces it follows as its own message."""
        attachment = outbound.attachment
        uploaded, keys = await self.client.upload(
            io.BytesIO(attachment.data),
            content_type=attachment.media_type,
            filename=attachment.filename,
            encrypt=room.encrypted,
            filesize=len(attachment.data),
        )
        if not isinstance(uploaded, UploadResponse):
            raise RuntimeError(f"matrix refused the file {attachment.filename}: {uploaded}")
        content: dict[str, Any] = {
            "msgtype": "m.image" if attachment.media_type.startswith("image/") else "m.file",
            # a body other than the filename is the file's caption, which clients read
            # out as an image's alt text (Matrix 1.10)
            "body": attachment.description or attachment.filename,
            "filename": attachment.filename,
            "info": {"mimetype": attachment.media_type, "size": len(attachment.data)},
            "m.mentions": {},
        }
        if keys is not None:
            content["file"] = {**keys, "url": uploaded.content_uri}
        else:
            content["url"] = uploaded.content_uri
        tx_id = f"civicbot-{outbound.outbox_id}-file" if outbound.outbox_id else None
        await self._send_event(room.room_id, content, tx_id)

    async def _known_room(self, room_id: str) -> Any:
        """The room as syncing knows it: nio encrypts for the members it knows. Until the
        first sync, and for a room the bot has just opened until its invitation has synced
        (a sync can show a new room half made), it is waited for; else unknown is an error."""
        invited = self._opened.get(room_id)

        def ready() -> bool:
            room = self.client.rooms.get(room_id)
            if room is None:
                return False
            return invited is None or invited in room.users

        if not ready() and (invited or not self._first_sync_done.is_set()):
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(NEW_ROOM_WAIT_SECONDS):
                    while not ready():
                        await self._synced.wait()
        if ready():
            self._opened.pop(room_id, None)
        room = self.client.rooms.get(room_id)
        if room is None:
            raise LookupError(f"the bot is not in the Matrix room {room_id}")
        return room

    async def _send_event(self, room_id: str, content: dict[str, Any], tx_id: str | None) -> None:
        await self._share_room_key(room_id)
        for attempt in range(1, SEND_ATTEMPTS + 1):
            response = await self.client.room_send(
                room_id,
                "m.room.message",
                content,
                tx_id=tx_id,
                # Citizens do not verify the bot's devices, nor it theirs: encrypt to all.
                ignore_unverified_devices=True,
            )
            if isinstance(response, RoomSendResponse):
                return
            if getattr(response, "status_code", None) == "M_LIMIT_EXCEEDED":
                wait = (getattr(response, "retry_after_ms", None) or 1000) / 1000
                log.info("matrix rate limit, attempt %d: waiting %.1f s", attempt, wait)
                await asyncio.sleep(wait)
                continue
            raise RuntimeError(f"matrix refused the message: {response}")
        raise RuntimeError("matrix kept rate-limiting the message")

    async def _share_room_key(self, room_id: str) -> None:
        """In an encrypted room: every member's devices known, and the room key sent to
        each of them (invited people too), before a message is encrypted with it."""
        room = self.client.rooms[room_id]
        if not room.encrypted:
            return
        async with self._keys_lock:
            if not room.members_synced:
                await self.client.joined_members(room_id)
            if self.client.should_query_keys:
                await self.client.keys_query()
            if self.client.olm.should_share_group_session(room_id):
                await self.client.share_group_session(room_id, ignore_unverified_devices=True)

    async def open_direct(self, user_id: str) -> str:
        """The direct room with this person: the one the bot already shares with them
        (joined or invited), else a new encrypted one."""
        for room_id, room in self.client.rooms.items():
            if set(room.users) == {self.client.user_id, user_id}:
                return room_id
        created = await self.client.room_create(
            is_direct=True,
            invite=[user_id],
            preset=RoomPreset.trusted_private_chat,
            initial_state=[ENCRYPTED_ROOM],
        )
        if not isinstance(created, RoomCreateResponse):
            raise RuntimeError(f"could not open a direct room with {user_id}: {created}")
        self._opened[created.room_id] = user_id
        return created.room_id

    async def channel_members(self, channel: str) -> list[str]:
        members = await self.client.joined_members(channel)
        if not isinstance(members, JoinedMembersResponse):
            raise LookupError(str(members))
        return [m.user_id for m in members.members if m.user_id != self.client.user_id]


async def keep_keys(client: AsyncClient) -> None:
    """What nio's own sync loop does after each sync: keys out, keys in, sessions."""
    await client.send_to_device_messages()
    if client.should_upload_keys:
        await client.keys_upload()
    if client.should_query_keys:
        await client.keys_query()
    if client.should_claim_keys:
        await client.keys_claim(client.get_users_for_key_claiming())


def _backoff(attempt: int) -> int:
    """Seconds to wait before try number `attempt + 1` (counting from 0)."""
    return BACKOFF_SECONDS[min(attempt, len(BACKOFF_SECONDS) - 1)]


def _split(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]
