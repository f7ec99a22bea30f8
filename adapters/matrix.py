"""Matrix, through matrix-nio's AsyncClient: room events <-> core events, nothing else.

civicbot keeps its own sync checkpoint in a file beside the database and writes
it only after every event of a sync batch has been handed to the core and stored
(nio saves its token before callbacks run, so it is not used). A batch that came
back `limited` has a gap: it is fetched with /messages back to the previous
checkpoint. Events are deduplicated by event id in the core, so a batch replayed
after a crash changes nothing. Without a checkpoint, each direct room's messages
after the bot's own last one are caught up on. Own events and `m.notice` messages
(other bots) are ignored; invites are joined, and a refused join is tried again
(adapters/matrix_joins.py); a room with more than two members is never a citizen's
direct conversation, and takes only `!survey` commands.

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
import itertools
import logging
import os
import re
import time
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import aiohttp
from nio import (
    AsyncClient,
    AsyncClientConfig,
    EncryptionError,
    InviteMemberEvent,
    LocalProtocolError,
    MegolmEvent,
    SyncResponse,
)
from pydantic import Field

from adapters.matrix_device import MatrixLogin, keep_keys, log_in
from adapters.matrix_events import (
    EVENT_BYTES_LIMIT,
    PLATFORM,
    HeldEvents,
    inbound_of,
    sent_before,
    unanswered,
)
from adapters.matrix_history import back_to, gap
from adapters.matrix_joins import Joins
from adapters.matrix_rooms import Rooms
from adapters.recently import remember
from bot.config import ConfigError, PlatformSection
from bot.events import Capabilities, Inbound, InboundHandler, Outbound
from bot.platforms import Configured, PlatformContext

log = logging.getLogger(__name__)

SYNC_TIMEOUT_MS = 30_000
BACKOFF_SECONDS = (1, 2, 5, 10, 30)
UNREADABLE_AFTER_SECONDS = 60.0  # how long a message waits for its decryption key
SYNCS_AHEAD = 64  # fetched but not yet handled
HEALTH_EVERY_SECONDS = 600.0  # a line in the log that says syncing works
# Without a sync checkpoint, how far back unanswered messages are answered: well within
# the 30 days event ids are remembered, so nothing handled before is handled again.
CATCH_UP_SECONDS = 7 * 24 * 3600.0
LATEST_REMEMBERED = 4_096  # rooms whose latest message is known, for edits


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


class MatrixAdapter:
    platform = PLATFORM
    capabilities = Capabilities(
        invites=True, file_upload=True, max_message_length=EVENT_BYTES_LIMIT
    )
    # one sync loop and one set of end-to-end keys per device: several workers on one
    # database leave it to the one that leads (bot/leader_only.py)
    once_per_bot = True

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
        self._next_since: str | None = None  # where the next sync starts
        self._sync_failures = 0  # in a row, now: the readiness check reports them
        self._fetched: asyncio.Queue[tuple[str | None, SyncResponse]] = asyncio.Queue(SYNCS_AHEAD)
        self._joined_at: dict[str, float] = {}  # rooms joined while running: skip older events
        self._held = HeldEvents(wait=unreadable_after)
        self._tasks: list[asyncio.Task[None]] = []
        # Device lists, Olm sessions and room keys change one step at a time: a key query
        # landing while a room key is being shared would skip the devices it brought.
        self._keys_lock = asyncio.Lock()
        self._rooms = Rooms(self.client, self._keys_lock)
        self._joins = Joins(self.client)
        # Each direct room's latest message from its person: is an edit of it?
        self._latest: OrderedDict[str, str] = OrderedDict()

    def describe(self) -> str:
        return f"Matrix: syncing as {self._login.user_id}"

    def waiting_for_keys(self) -> int:
        """How many received messages wait for their decryption key."""
        return self._held.count()

    async def start(self) -> None:
        await log_in(self.client, self._login)
        if self._checkpoint_file.exists():
            self._next_since = self._checkpoint_file.read_text().strip() or None
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._fetch_forever()),
            loop.create_task(self._handle_forever()),
        ]

    async def unready(self) -> str | None:
        if self._sync_failures:
            return f"syncing with the homeserver failed {self._sync_failures} times in a row"
        return None if self._rooms.first_sync_done.is_set() else "the first sync is not done"

    async def stop(self) -> None:
        await self._joins.stop()
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
                    full_state=not self._rooms.first_sync_done.is_set(),
                )
            except (aiohttp.ClientError, TimeoutError) as error:
                response = error  # the homeserver is down or the connection stalled
            if not isinstance(response, SyncResponse):
                delay = _backoff(failures)
                failures += 1
                self._sync_failures = failures
                log.warning("matrix sync failed (%s); retrying in %d s", response, delay)
                await asyncio.sleep(delay)
                continue
            if failures:
                log.info("matrix: syncing again after %d failed attempts", failures)
            failures = self._sync_failures = 0
            if time.monotonic() - last_health >= HEALTH_EVERY_SECONDS:
                last_health = time.monotonic()
                log.info(
                    "matrix: healthy: %d rooms, %d batches waiting, %d messages held for keys",
                    len(self.client.rooms),
                    self._fetched.qsize(),
                    self.waiting_for_keys(),
                )
            self._next_since = response.next_batch
            try:
                async with self._keys_lock:
                    await keep_keys(self.client)
            except Exception:
                log.exception("matrix key maintenance failed; the next sync tries again")
            self._rooms.synced()
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
            self._save_checkpoint(
                self._held.checkpoint(since=since, next_batch=response.next_batch)
            )

    async def _handle(self, response: SyncResponse, *, since: str | None) -> None:
        for room_id in response.rooms.leave:
            self._joins.withdrawn(room_id)
        for room_id, invited in response.rooms.invite.items():
            if any(isinstance(e, InviteMemberEvent) for e in invited.invite_state):
                self._joined_at.setdefault(room_id, time.time())
                await self._joins.join(room_id)
        if since is None:
            await self._catch_up(response)
            return
        per_room = []
        for room_id in response.rooms.join.keys() | self._held.rooms():
            joined = response.rooms.join.get(room_id)
            events = list(joined.timeline.events) if joined else []
            if joined and joined.timeline.limited:
                events = await gap(self.client, room_id, joined.timeline.prev_batch, since) + events
            per_room.append(self._room_events(room_id, events))
        # rooms are independent; within a room events go in order
        await asyncio.gather(*per_room)

    async def _catch_up(self, response: SyncResponse) -> None:
        """No checkpoint (a first start, or the file was lost): in each direct room, the
        events after the bot's own last message there, of the last CATCH_UP_SECONDS.
        Any of them handled before changes nothing (event ids); group rooms' commands
        are not replayed."""
        own = self.client.user_id
        direct = {
            room_id: joined
            for room_id, joined in response.rooms.join.items()
            if (room := self.client.rooms.get(room_id)) is not None and room.member_count <= 2
        }
        if not direct:
            return
        log.warning(
            "matrix: no sync checkpoint; catching up on %d direct rooms from their history",
            len(direct),
        )
        not_before = time.time() - CATCH_UP_SECONDS
        per_room = []
        for room_id, joined in direct.items():
            events = list(joined.timeline.events)
            if joined.timeline.limited and not any(e.sender == own for e in events):
                events = await back_to(self.client, room_id, joined.timeline.prev_batch) + events
            per_room.append(
                self._room_events(room_id, unanswered(events, own, not_before=not_before))
            )
        await asyncio.gather(*per_room)

    async def _room_events(self, room_id: str, events: list[Any]) -> None:
        """Hand a room's events to the core in order. Held events go first, and stay
        held until handled, so a batch that fails is tried again whole."""
        events = self._held.before(room_id, events)
        joined_at = self._joined_at.get(room_id)
        room = self.client.rooms.get(room_id)
        if joined_at is not None and room is not None and room.member_count <= 2:
            await self._greet(room_id, room)
        for index, event in enumerate(events):
            if sent_before(event, joined_at):
                continue
            unreadable = False
            if isinstance(event, MegolmEvent):
                event = await self._decrypted(room_id, event)
                if isinstance(event, MegolmEvent):
                    if self._held.still_waiting(event.event_id):
                        self._held.hold(room_id, events[index:])  # later events wait behind it
                        return
                    log.warning("matrix: gave up waiting for the key of %s", event.event_id)
                    unreadable = True
            inbound = inbound_of(
                event,
                room_id=room_id,
                direct=room is not None and room.member_count <= 2,
                own_user=self.client.user_id,
                unreadable=unreadable,
                latest=self._latest.get(room_id),
            )
            if inbound is not None:
                await self._handler(inbound)
                if inbound.is_direct and inbound.edited is None:
                    remember(self._latest, room_id, event.event_id, most=LATEST_REMEMBERED)
            self._held.handled(event.event_id)
        self._held.release(room_id)
        self._joined_at.pop(room_id, None)

    async def _decrypted(self, room_id: str, event: MegolmEvent) -> Any:
        """The event decrypted, or the same MegolmEvent while its key has not come."""
        event.room_id = event.room_id or room_id
        try:
            decrypted = self.client.decrypt_event(event)
        except EncryptionError:
            if self._held.unreadable(event.event_id):
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
        await self._rooms.send(outbound)

    async def open_direct(self, user_id: str) -> str:
        return await self._rooms.open_direct(user_id)

    async def resolve_people(self, names: Sequence[str]) -> list[str]:
        """Matrix users are named by their full id; anything else is named back."""
        wrong = [name for name in names if not MATRIX_USER.match(name)]
        if wrong:
            raise LookupError(
                f"{', '.join(wrong)}: Matrix users are named by their id, like @ann:example.org"
            )
        return list(names)

    async def channel_members(self, channel: str) -> list[str]:
        return await self._rooms.channel_members(channel)


MATRIX_USER = re.compile(r"^@[^:\s]+:\S+$")


def _backoff(attempt: int) -> int:
    """Seconds to wait before try number `attempt + 1` (counting from 0)."""
    return BACKOFF_SECONDS[min(attempt, len(BACKOFF_SECONDS) - 1)]
