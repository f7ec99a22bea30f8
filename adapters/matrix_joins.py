"""Joining the rooms the bot is invited to, until it works.

A homeserver may refuse a join for a while (Synapse's `rc_joins` answers
M_LIMIT_EXCEEDED with a time to wait). A refused join is tried again in the
background, after the time the homeserver asks for or with back-off, until it
works or the invitation is withdrawn (the room shows among the sync's left rooms,
or the homeserver answers M_FORBIDDEN). After a restart, the first sync is a full
one and lists every pending invitation again, so none is forgotten.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable

from nio import AsyncClient, JoinError

log = logging.getLogger(__name__)

BACKOFF_SECONDS = (1, 2, 5, 10, 30, 60)


class Joins:
    def __init__(
        self, client: AsyncClient, *, backoff: Callable[[int], float] | None = None
    ) -> None:
        self._client = client
        self._backoff = backoff or _backoff
        self._trying: dict[str, asyncio.Task[None]] = {}

    async def join(self, room_id: str) -> bool:
        """Join now; when refused, keep trying in the background. True if joined now."""
        if room_id in self._trying:
            return False
        joined = await self._client.join(room_id)
        if not isinstance(joined, JoinError):
            return True
        task = asyncio.get_running_loop().create_task(self._keep_trying(room_id, joined))
        self._trying[room_id] = task
        task.add_done_callback(lambda _: self._trying.pop(room_id, None))
        return False

    async def _keep_trying(self, room_id: str, refused: JoinError) -> None:
        for attempt in itertools.count(1):
            asked = getattr(refused, "retry_after_ms", None)
            wait = asked / 1000 if asked else self._backoff(attempt - 1)
            log.warning(
                "matrix: joining a room was refused (%s, attempt %d); again in %.1f s",
                refused.status_code,
                attempt,
                wait,
            )
            await asyncio.sleep(wait)
            joined = await self._client.join(room_id)
            if not isinstance(joined, JoinError):
                log.info("matrix: joined a room after %d refused attempts", attempt)
                return
            if joined.status_code == "M_FORBIDDEN":
                log.info("matrix: an invitation was withdrawn before the bot could join")
                return
            refused = joined

    def withdrawn(self, room_id: str) -> None:
        """The bot left the room or its invitation went: stop trying to join it."""
        task = self._trying.pop(room_id, None)
        if task is not None:
            task.cancel()

    async def stop(self) -> None:
        for task in list(self._trying.values()):
            task.cancel()
        await asyncio.gather(*self._trying.values(), return_exceptions=True)


def _backoff(attempt: int) -> float:
    return BACKOFF_SECONDS[min(attempt, len(BACKOFF_SECONDS) - 1)]
