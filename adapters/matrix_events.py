"""Matrix events <-> core events, as pure functions, and the messages held for their keys.

Nothing here talks to the homeserver: the adapter (adapters/matrix.py) syncs,
decrypts and sends, and asks these what an event means and what to post.
"""

from __future__ import annotations

import html
import json
import time
from collections.abc import Callable
from typing import Any

from nio import RoomMessageText

from bot.events import Attachment, Inbound
from conversations.outgoing import Message, typed_text

PLATFORM = "matrix"
COMMAND_PREFIX = "!survey"
EVENT_BYTES_LIMIT = 60_000  # under Matrix's 65,536-byte event limit, with room to spare
# Body and formatted body of one event, as JSON escapes them: encrypted, the event grows
# by a third (base64) and an envelope, and must still be under the limit.
PART_BYTES = 40_000


def inbound_of(
    event: Any,
    *,
    room_id: str,
    direct: bool,
    own_user: str,
    unreadable: bool = False,
    latest: str | None = None,
) -> Inbound | None:
    """The core event for a room event; None for what civicbot does not read. A direct
    room (two members) carries a citizen's answers; any room carries `!survey` commands.
    An edit (m.replace) carries its new text, and whether it edits `latest`, the id of
    the sender's last message in the room."""
    if not unreadable and (not isinstance(event, RoomMessageText) or event.sender == own_user):
        return None  # m.notice (bots), own echoes, state and everything else
    text = "" if unreadable else event.body
    edited = None
    relation = {} if unreadable else event.source.get("content", {}).get("m.relates_to") or {}
    if relation.get("rel_type") == "m.replace":
        if not direct:
            return None  # an edited command is not run again
        text = (event.source["content"].get("m.new_content") or {}).get("body", "")
        edited = "latest" if relation.get("event_id") == latest else "older"
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
        command=command and edited is None,
        unreadable="encrypted" if unreadable else None,
        edited=edited,
    )


def sent_before(event: Any, joined_at: float | None) -> bool:
    """Whether the event predates the bot's joining the room (a second's leeway)."""
    return joined_at is not None and event.server_timestamp / 1000 < joined_at - 1


def unanswered(events: list[Any], own_user: str, *, not_before: float) -> list[Any]:
    """The events after the bot's own last one (those it may not have answered), sent
    since `not_before`: what a start without a sync checkpoint catches up on."""
    last_own = max((i for i, e in enumerate(events) if e.sender == own_user), default=-1)
    return [e for e in events[last_own + 1 :] if e.server_timestamp / 1000 >= not_before]


def text_contents(message: Message, *, notice: bool) -> list[dict[str, Any]]:
    """The m.room.message contents of a message: m.text to a citizen, m.notice into group
    rooms, with the choices numbered, split to fit, HTML escaped, nobody pinged. What is
    below the fold (a digest's full figures) follows as events of its own."""
    parts = split(typed_text(message), PART_BYTES)
    if message.details:
        parts += split(message.details, PART_BYTES)
    return [
        {
            "msgtype": "m.notice" if notice else "m.text",
            "body": part,
            "format": "org.matrix.custom.html",
            "formatted_body": _html(part),
            "m.mentions": {},  # nobody is pinged, whatever the text says
        }
        for part in parts
    ]


def _html(text: str) -> str:
    return html.escape(text).replace("\n", "<br>")


def _cost(character: str) -> int:
    """Bytes the character takes in the body and the formatted body, as JSON."""
    return len(json.dumps(character)) + len(json.dumps(_html(character))) - 4


def file_content(attachment: Attachment, uri: str, keys: dict[str, Any] | None) -> dict[str, Any]:
    """An uploaded file as m.image or m.file; `keys` when it was encrypted for the room."""
    content: dict[str, Any] = {
        "msgtype": "m.image" if attachment.media_type.startswith("image/") else "m.file",
        # a body other than the filename is the file's caption, which clients read out
        # as an image's alt text (Matrix 1.10)
        "body": attachment.description or attachment.filename,
        "filename": attachment.filename,
        "info": {"mimetype": attachment.media_type, "size": attachment.size},
        "m.mentions": {},
    }
    if keys is not None:
        content["file"] = {**keys, "url": uri}
    else:
        content["url"] = uri
    return content


def split(text: str, budget: int) -> list[str]:
    """Parts of the text whose body and formatted body take at most `budget` bytes, cut
    after a line where one ends in the part, else where the budget runs out."""
    parts: list[str] = []
    start, used, line_end = 0, 0, None
    for index, character in enumerate(text):
        cost = _cost(character)
        if used + cost > budget:
            cut = line_end + 1 if line_end is not None else index
            parts.append(text[start:cut])
            start, line_end = cut, None
            used = sum(_cost(c) for c in text[start:index])
        used += cost
        if character == "\n":
            line_end = index
    parts.append(text[start:])
    return parts


class HeldEvents:
    """Per room, the events behind one that cannot be decrypted yet, in order, and where
    syncing must resume so that none of them is skipped after a restart."""

    def __init__(self, *, wait: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._wait = wait
        self._clock = clock
        self._rooms: dict[str, list[Any]] = {}
        self._first_seen: dict[str, float] = {}  # event id -> when it could not be read
        self._checkpoint: str | None = None  # the sync token before the oldest held event

    def rooms(self) -> set[str]:
        return set(self._rooms)

    def count(self) -> int:
        return sum(len(events) for events in self._rooms.values())

    def before(self, room_id: str, events: list[Any]) -> list[Any]:
        """The room's held events, then the new ones."""
        return self._rooms.get(room_id, []) + events

    def unreadable(self, event_id: str) -> bool:
        """Note an event that could not be decrypted; True the first time (ask for its key)."""
        if event_id in self._first_seen:
            return False
        self._first_seen[event_id] = self._clock()
        return True

    def still_waiting(self, event_id: str) -> bool:
        """Whether its key may still come; past the wait, it is handled as unreadable."""
        return self._clock() - self._first_seen[event_id] < self._wait

    def hold(self, room_id: str, events: list[Any]) -> None:
        """Hold these events (the first one unreadable) until the next try."""
        self._rooms[room_id] = events

    def handled(self, event_id: str) -> None:
        self._first_seen.pop(event_id, None)

    def release(self, room_id: str) -> None:
        """Every held event of the room has been handled."""
        self._rooms.pop(room_id, None)

    def checkpoint(self, *, since: str | None, next_batch: str) -> str:
        """Where to resume after a batch fetched from `since`: the batch's end, or, while
        events are held, the token before the oldest of them."""
        if not self._rooms:
            self._checkpoint = None
        elif self._checkpoint is None:
            self._checkpoint = since
        return self._checkpoint or next_batch
