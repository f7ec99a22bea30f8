"""The storage contract's part for web transcripts and delivery reports
(storage/web_contract.py). A part of `SqlStore`, whose writer and reads it uses; a
backend with other workers watches."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from storage import deliveries, web_messages
from storage.dialect import Connection
from storage.writer import GroupCommitWriter


class WebStore:
    writer: GroupCommitWriter
    _scan: Callable[[Callable[[Connection], Any]], Awaitable[Any]]
    _in_chunks: Callable[[Callable[[Connection], int]], Awaitable[int]]

    async def append_web_message(
        self, conversation_id: str, *, outbox_id: int | None, entry: str, now: float
    ) -> int | None:
        return await self.writer.write(
            partial(
                web_messages.append,
                conversation_id=conversation_id,
                outbox_id=outbox_id,
                entry=entry,
                now=now,
            )
        )

    async def web_messages(
        self, conversation_id: str, *, after: int, most: int
    ) -> tuple[list[tuple[int, str]], int]:
        return await self._scan(
            partial(web_messages.since, conversation_id=conversation_id, after=after, most=most)
        )

    async def watch_web_messages(self, heard: Callable[[str], None]) -> None:
        return None  # one process: nobody else stores web messages

    async def forget_web_messages(self, now: float) -> int:
        before = now - web_messages.KEPT_SECONDS
        return await self._in_chunks(partial(web_messages.forget_before, before=before))

    async def record_delivery(
        self, *, platform: str, message_id: str, status: str, error_code: int | None, now: float
    ) -> None:
        await self.writer.write(
            partial(
                deliveries.record,
                platform=platform,
                message_id=message_id,
                status=status,
                error_code=error_code,
                now=now,
            )
        )

    async def delivery_counts(self, *, platform: str, since: float) -> dict[str, int]:
        return await self._scan(partial(deliveries.counts, platform=platform, since=since))

    async def forget_deliveries(self, now: float) -> int:
        before = now - deliveries.KEPT_SECONDS
        return await self._in_chunks(partial(deliveries.forget_before, before=before))
