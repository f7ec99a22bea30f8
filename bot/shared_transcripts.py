"""Web transcripts that several workers on one database share (adapters/web_transcripts.py
says why): stored, and polls woken by the database's notice that any worker stored one.

Waking is only a hint: a poll reads the database when woken and when its wait ends, so
a notice lost with a connection delays a reply by one poll, never loses it.
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict

from adapters.web_transcripts import TRANSCRIPT_LENGTH
from bot.scheduler import Clock
from storage.contract import Storage

EPOCH = "shared"  # the transcripts outlive a worker's restart: a page keeps its place


class SharedTranscripts:
    epoch = EPOCH

    def __init__(self, store: Storage, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self._waiting: defaultdict[str, set[asyncio.Future[None]]] = defaultdict(set)

    async def add(self, conversation_id: str, outbox_id: int | None, entry: dict) -> None:
        await self._store.append_web_message(
            conversation_id, outbox_id=outbox_id, entry=json.dumps(entry), now=self._clock()
        )
        self.heard(conversation_id)  # this worker's polls at once; the notice comes too

    async def read(self, conversation_id: str, after: int) -> tuple[list[dict], int]:
        stored, last = await self._store.web_messages(
            conversation_id, after=after, most=TRANSCRIPT_LENGTH
        )
        return [{"seq": seq, **json.loads(entry)} for seq, entry in stored], last

    async def wait(self, conversation_id: str, after: int) -> None:
        woken = asyncio.get_running_loop().create_future()
        self._waiting[conversation_id].add(woken)
        try:
            _, last = await self._store.web_messages(conversation_id, after=after, most=1)
            if last <= after:  # nothing came between the poll's read and now
                await woken
        finally:
            waiting = self._waiting[conversation_id]
            waiting.discard(woken)
            if not waiting:
                del self._waiting[conversation_id]

    def heard(self, conversation_id: str) -> None:
        """Some worker stored a message for the conversation."""
        for woken in self._waiting.get(conversation_id, ()):
            if not woken.done():
                woken.set_result(None)

    def forget(self, conversation_id: str) -> None:
        # its rows go within a day; the browser that could ask for them holds no key now
        self.heard(conversation_id)

    def wake_all(self) -> None:
        for conversation_id in list(self._waiting):
            self.heard(conversation_id)
