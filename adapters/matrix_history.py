"""Reading a room's earlier events, for what a sync left out: the gap of a `limited`
batch back to the last checkpoint, and, without a checkpoint, the history back to the
bot's own last message."""

from __future__ import annotations

from typing import Any

from nio import AsyncClient, MessageDirection, RoomMessagesResponse

PAGE = 100  # events per /messages request
MOST_PAGES_BACK = 10  # how far a start without a checkpoint looks for the bot's last message


async def gap(client: AsyncClient, room_id: str, prev_batch: str | None, since: str) -> list[Any]:
    """The events a limited sync left out, back to the last checkpoint, oldest first."""
    missing: list[Any] = []
    start = prev_batch
    while start:
        page = await client.room_messages(
            room_id, start=start, end=since, direction=MessageDirection.back, limit=PAGE
        )
        if not isinstance(page, RoomMessagesResponse) or not page.chunk:
            break
        missing.extend(page.chunk)
        start = page.end
    return list(reversed(missing))


async def back_to(client: AsyncClient, room_id: str, start: str | None) -> list[Any]:
    """A room's events before `start`, oldest first, back to the bot's own last message
    (at most MOST_PAGES_BACK pages)."""
    earlier: list[Any] = []
    for _ in range(MOST_PAGES_BACK):
        if not start:
            break
        page = await client.room_messages(
            room_id, start=start, direction=MessageDirection.back, limit=PAGE
        )
        if not isinstance(page, RoomMessagesResponse) or not page.chunk:
            break
        earlier.extend(page.chunk)
        if any(getattr(event, "sender", None) == client.user_id for event in page.chunk):
            break
        start = page.end
    return list(reversed(earlier))
