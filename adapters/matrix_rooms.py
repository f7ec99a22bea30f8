"""Posting into Matrix rooms: messages and files (encrypted where the room is), rate
limits, and the direct rooms the bot opens for invitations.

A room must be known from syncing before anything is sent into it, because nio
encrypts for the members it knows; `synced()` is called after every sync so that
a message for a room the bot has just opened waits until its invitation shows.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from nio import (
    AsyncClient,
    JoinedMembersResponse,
    RoomCreateResponse,
    RoomPreset,
    RoomResolveAliasResponse,
    RoomSendResponse,
    UploadResponse,
)

from adapters.matrix_device import share_room_key
from adapters.matrix_events import file_content, text_contents
from bot.events import Outbound, Refused

log = logging.getLogger(__name__)

SEND_ATTEMPTS = 5
# Errors that sending the same event again cannot mend.
LASTING_REFUSALS = frozenset({"M_TOO_LARGE", "M_BAD_JSON", "M_NOT_JSON"})
NEW_ROOM_WAIT_SECONDS = 30.0  # a room the bot just created appears with the next sync
ENCRYPTED_ROOM = {
    "type": "m.room.encryption",
    "state_key": "",
    "content": {"algorithm": "m.megolm.v1.aes-sha2"},
}


class Rooms:
    def __init__(self, client: AsyncClient, keys_lock: asyncio.Lock) -> None:
        self.client = client
        self._keys_lock = keys_lock
        self.first_sync_done = asyncio.Event()
        self._synced = asyncio.Event()  # replaced after each sync: waiters learn of new rooms
        self._opened: dict[str, str] = {}  # room the bot opened -> whom it invited there

    def synced(self) -> None:
        """A sync has been applied: rooms waited for may be known now."""
        self.first_sync_done.set()
        self._synced.set()
        self._synced = asyncio.Event()

    async def send(self, outbound: Outbound) -> None:
        """Post as m.text to a citizen, as m.notice into group rooms; split long text.
        The outbox id is the transaction id, so a resend is the same event."""
        room = await self._known_room(outbound.conversation_id)
        notice = room.member_count > 2
        if outbound.attachment is not None:
            await self._send_file(room, outbound)
        for number, content in enumerate(text_contents(outbound.message, notice=notice)):
            tx_id = f"civicbot-{outbound.outbox_id}-{number}" if outbound.outbox_id else None
            await self._send_event(outbound.conversation_id, content, tx_id)

    async def _send_file(self, room: Any, outbound: Outbound) -> None:
        """Upload the file (encrypted for an encrypted room) and post it as m.image or
        m.file; the text that introduces it follows as its own message."""
        attachment = outbound.attachment
        uploaded, keys = await self.client.upload(
            attachment.reader(),
            content_type=attachment.media_type,
            filename=attachment.filename,
            encrypt=room.encrypted,
            filesize=attachment.size,
        )
        if not isinstance(uploaded, UploadResponse):
            raise RuntimeError(f"matrix refused the file {attachment.filename}: {uploaded}")
        content = file_content(attachment, uploaded.content_uri, keys)
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
        await share_room_key(self.client, room_id, self._keys_lock)
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
            code = getattr(response, "status_code", None) or "unknown"
            # Transaction ids make parts sent before this one go only once.
            raise Refused(code, lasting=code in LASTING_REFUSALS)
        raise Refused("M_LIMIT_EXCEEDED")

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
        """The members of a room, named by its id (!abc:server) or an alias (#team:server)."""
        if channel.startswith("#"):
            resolved = await self.client.room_resolve_alias(channel)
            if not isinstance(resolved, RoomResolveAliasResponse):
                raise LookupError(f"there is no room {channel}")
            channel = resolved.room_id
        members = await self.client.joined_members(channel)
        if not isinstance(members, JoinedMembersResponse):
            raise LookupError(str(members))
        return [m.user_id for m in members.members if m.user_id != self.client.user_id]
