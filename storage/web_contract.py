"""The storage contract's part for what adapters keep beyond turns: the web chat's
transcripts, which several workers on one database share (storage/web_messages.py),
and platforms' delivery reports (storage/deliveries.py). `Storage` includes it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol


class WebStorage(Protocol):
    async def append_web_message(
        self, conversation_id: str, *, outbox_id: int | None, entry: str, now: float
    ) -> int | None:
        """Add a message (the page's JSON) to the conversation's transcript, durably; its
        number there, one more than the last, or None if this outbox row is there already."""
        ...

    async def web_messages(
        self, conversation_id: str, *, after: int, most: int
    ) -> tuple[list[tuple[int, str]], int]:
        """The conversation's messages numbered above `after` with their numbers (the
        last `most` of them, oldest first), and the number of its newest (0 if none)."""
        ...

    async def watch_web_messages(self, heard: Callable[[str], None]) -> None:
        """Call `heard(conversation_id)` on the event loop whenever any worker has stored
        a web message, until cancelled. A backend that one process uses returns at once."""
        ...

    async def forget_web_messages(self, now: float) -> int:
        """Forget web messages sent over a day before `now`, in chunks; how many went."""
        ...

    async def record_delivery(
        self, *, platform: str, message_id: str, status: str, error_code: int | None, now: float
    ) -> None:
        """Keep what the platform reported of a message it took, unless an earlier report
        said it had got further (reports arrive out of order)."""
        ...

    async def delivery_counts(self, *, platform: str, since: float) -> dict[str, int]:
        """How many of the platform's messages reported since `since` are at each status."""
        ...

    async def forget_deliveries(self, now: float) -> int:
        """Forget delivery reports older than their keeping time, in chunks; how many went."""
        ...
