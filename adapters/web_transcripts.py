"""What each web conversation was sent, for its page to long-poll.

One process keeps transcripts in memory (`MemoryTranscripts`): fast, and gone at a
restart, which a page notices by the epoch and reads the new transcript from its
start. Several workers on one database share them there (bot/shared_transcripts.py),
since a page's poll may land on another worker than the one that sent its reply.
"""

from __future__ import annotations

import asyncio
import secrets
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any, Protocol

from adapters.recently import used

TRANSCRIPT_LENGTH = 100  # messages kept per conversation for a reload
MAX_CONVERSATIONS = 10_000  # least recently active ones beyond this are forgotten


class Transcripts(Protocol):
    epoch: str  # another one than the page knew: read from the start

    async def add(self, conversation_id: str, outbox_id: int | None, entry: dict) -> None:
        """Add a message; a reply sent again (the same outbox id) may be kept once."""
        ...

    async def read(self, conversation_id: str, after: int) -> tuple[list[dict], int]:
        """The messages numbered above `after` (each with its `seq`) and the last number."""
        ...

    async def wait(self, conversation_id: str, after: int) -> None:
        """Until a message numbered above `after` may be there, or all are woken."""
        ...

    def wake_all(self) -> None:
        """Let every waiting poll go (the adapter is stopping)."""
        ...

    def forget(self, conversation_id: str) -> None:
        """The page is done with it: no reload will ask for it again."""
        ...


@dataclass
class _Transcript:
    messages: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=TRANSCRIPT_LENGTH))
    sequence: int = 0
    changed: asyncio.Event = field(default_factory=asyncio.Event)


class MemoryTranscripts:
    def __init__(self) -> None:
        self.epoch = secrets.token_hex(8)
        self._transcripts: OrderedDict[str, _Transcript] = OrderedDict()

    async def add(self, conversation_id: str, outbox_id: int | None, entry: dict) -> None:
        transcript = self._transcript(conversation_id)
        transcript.sequence += 1
        transcript.messages.append({"seq": transcript.sequence, **entry})
        transcript.changed.set()

    async def read(self, conversation_id: str, after: int) -> tuple[list[dict], int]:
        transcript = self._transcript(conversation_id)
        return [m for m in transcript.messages if m["seq"] > after], transcript.sequence

    async def wait(self, conversation_id: str, after: int) -> None:
        transcript = self._transcript(conversation_id)
        if transcript.sequence > after:
            return
        transcript.changed.clear()
        await transcript.changed.wait()

    def wake_all(self) -> None:
        for transcript in self._transcripts.values():
            transcript.changed.set()

    def forget(self, conversation_id: str) -> None:
        forgotten = self._transcripts.pop(conversation_id, None)
        if forgotten is not None:
            forgotten.changed.set()  # a poll still waiting on it goes

    def _transcript(self, conversation_id: str) -> _Transcript:
        return used(self._transcripts, conversation_id, _Transcript, most=MAX_CONVERSATIONS)
