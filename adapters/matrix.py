"""Matrix, through matrix-nio's AsyncClient: room events <-> core events, nothing else.

civicbot keeps its own sync checkpoint in a file beside the database and writes
it only after every event of a sync batch has been handed to the core and stored
(nio saves its token before callbacks run, so it is not used). A batch that came
back `limited` has a gap: it is fetched with /messages back to the previous
checkpoint. Events are deduplicated by event id in the core, so a batch replayed
after a crash changes nothing. Own events and `m.notice` messages (other bots)
are ignored; invites are joined; a room with more than two members is never a
citizen's direct conversation, and takes only `!survey` commands.

End-to-end encryption is not supported yet: encrypted events are ignored, with
a warning in the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import os
import time
from pathlib import Path
from typing import Any

from nio import (
    AsyncClient,
    AsyncClientConfig,
    InviteMemberEvent,
    JoinedMembersResponse,
    MegolmEvent,
    MessageDirection,
    RoomCreateResponse,
    RoomMessagesResponse,
    RoomMessageText,
    RoomPreset,
    RoomSendResponse,
    SyncResponse,
)

from bot.events import Capabilities, Inbound, InboundHandler, Outbound

log = logging.getLogger(__name__)

PLATFORM = "matrix"
COMMAND_PREFIX = "!survey"
EVENT_BYTES_LIMIT = 60_000  # under Matrix's 65,536-byte event limit, with room to spare
SEND_ATTEMPTS = 5
SYNC_TIMEOUT_MS = 30_000
BACKOFF_SECONDS = (1, 2, 5, 10, 30)
GAP_PAGE = 100


class MatrixAdapter:
    platform = PLATFORM
    capabilities = Capabilities(invites=True, max_message_length=EVENT_BYTES_LIMIT)

    def __init__(
        self,
        handler: InboundHandler,
        *,
        homeserver: str,
        user_id: str,
        access_token: str,
        device_id: str,
        state_folder: Path,
        sync_timeout_ms: int = SYNC_TIMEOUT_MS,
    ) -> None:
        self._handler = handler
        self.client = AsyncClient(
            homeserver, user_id, device_id=device_id, config=AsyncClientConfig(max_limit_exceeded=0)
        )
        self.client.restore_login(user_id, device_id, access_token)
        self._checkpoint_file = state_folder / "matrix-sync-checkpoint"
        self._sync_timeout_ms = sync_timeout_ms
        self._since: str | None = None
        self._joined_at: dict[str, float] = {}  # rooms joined while running: skip older events
        self._task: asyncio.Task[None] | None = None
        self.synced = asyncio.Event()  # set after each batch is handled: tests wait on it

    async def start(self) -> None:
        if self._checkpoint_file.exists():
            self._since = self._checkpoint_file.read_text().strip() or None
        self._task = asyncio.get_running_loop().create_task(self._sync_forever())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.client.close()

    async def _sync_forever(self) -> None:
        failures = 0
        while True:
            response = await self.client.sync(timeout=self._sync_timeout_ms, since=self._since)
            if not isinstance(response, SyncResponse):
                delay = BACKOFF_SECONDS[min(failures, len(BACKOFF_SECONDS) - 1)]
                failures += 1
                log.warning("matrix sync failed (%s); retrying in %d s", response, delay)
                await asyncio.sleep(delay)
                continue
            if failures:
                log.info("matrix sync is back after %d failures", failures)
            failures = 0
            first = self._since is None
            await self._handle(response, first=first)
            self._save_checkpoint(response.next_batch)
            self.synced.set()

    async def _handle(self, response: SyncResponse, *, first: bool) -> None:
        for room_id, invited in response.rooms.invite.items():
            if any(isinstance(e, InviteMemberEvent) for e in invited.invite_state):
                self._joined_at[room_id] = time.time()
                joined = await self.client.join(room_id)
                log.info("joined %s: %s", room_id, type(joined).__name__)
        if first:
            return  # history from before the bot was running is not processed
        per_room = []
        for room_id, joined in response.rooms.join.items():
            events = list(joined.timeline.events)
            if joined.timeline.limited:
                events = await self._with_gap(room_id, joined.timeline.prev_batch) + events
            per_room.append(self._room_events(room_id, events))
        # rooms are independent; within a room events go in order
        await asyncio.gather(*per_room)

    async def _with_gap(self, room_id: str, prev_batch: str | None) -> list[Any]:
        """The events a limited sync left out, back to the last checkpoint, oldest first."""
        missing: list[Any] = []
        start = prev_batch
        while start:
            page = await self.client.room_messages(
                room_id,
                start=start,
                end=self._since,
                direction=MessageDirection.back,
                limit=GAP_PAGE,
            )
            if not isinstance(page, RoomMessagesResponse) or not page.chunk:
                break
            missing.extend(page.chunk)
            start = page.end
        return list(reversed(missing))

    async def _room_events(self, room_id: str, events: list[Any]) -> None:
        joined_at = self._joined_at.pop(room_id, None)
        room = self.client.rooms.get(room_id)
        if joined_at is not None and room is not None and room.member_count <= 2:
            await self._greet(room_id, room)
        for event in events:
            if joined_at is not None and event.server_timestamp / 1000 < joined_at - 1:
                continue  # sent before the bot joined
            if isinstance(event, MegolmEvent):
                log.warning("an encrypted message in %s was ignored: not supported yet", room_id)
                continue
            if not isinstance(event, RoomMessageText) or event.sender == self.client.user_id:
                continue  # m.notice (bots), own echoes, state and everything else
            direct = room is not None and room.member_count <= 2
            text = event.body
            command = text.strip().lower().startswith(COMMAND_PREFIX)
            if command:
                text = text.strip()[len(COMMAND_PREFIX) :].strip()
            elif not direct:
                continue  # chatter in a group room
            await self._handler(
                Inbound(
                    platform=PLATFORM,
                    user_id=event.sender,
                    conversation_id=room_id,
                    is_direct=direct,
                    text=text,
                    event_id=event.event_id,
                    timestamp=event.server_timestamp / 1000,
                    command=command,
                )
            )

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
        self._since = token

    async def send(self, outbound: Outbound) -> None:
        """Post as m.text to a citizen, as m.notice into group rooms; split long text.
        The outbox id is the transaction id, so a resend is the same event."""
        room = self.client.rooms.get(outbound.conversation_id)
        notice = room is None or room.member_count > 2
        text = outbound.text
        if outbound.choices and outbound.numbered:
            text += "\n" + "\n".join(f"{i}. {c.label}" for i, c in enumerate(outbound.choices, 1))
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

    async def _send_event(self, room_id: str, content: dict[str, Any], tx_id: str | None) -> None:
        for attempt in range(1, SEND_ATTEMPTS + 1):
            response = await self.client.room_send(room_id, "m.room.message", content, tx_id=tx_id)
            if isinstance(response, RoomSendResponse):
                return
            if getattr(response, "status_code", None) == "M_LIMIT_EXCEEDED":
                wait = (getattr(response, "retry_after_ms", None) or 1000) / 1000
                log.info("matrix rate limit, attempt %d: waiting %.1f s", attempt, wait)
                await asyncio.sleep(wait)
                continue
            raise RuntimeError(f"matrix refused the message: {response}")
        raise RuntimeError("matrix kept rate-limiting the message")

    async def open_direct(self, user_id: str) -> str:
        created = await self.client.room_create(
            is_direct=True, invite=[user_id], preset=RoomPreset.trusted_private_chat
        )
        if not isinstance(created, RoomCreateResponse):
            raise RuntimeError(f"could not open a direct room with {user_id}: {created}")
        return created.room_id

    async def channel_members(self, channel: str) -> list[str]:
        members = await self.client.joined_members(channel)
        if not isinstance(members, JoinedMembersResponse):
            raise LookupError(str(members))
        return [m.user_id for m in members.members if m.user_id != self.client.user_id]


def _split(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]
