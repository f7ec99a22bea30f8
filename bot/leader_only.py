"""Adapters a platform allows once per bot, run by the worker that leads.

Matrix's sync loop and end-to-end keys, and Slack's Socket Mode connection, may be
open only once per bot account. When several workers share a PostgreSQL database,
such an adapter (`once_per_bot`) runs in the leader alone: it starts when this worker
takes the lead (at start, or when the leader's session ended) and stops when it loses
it. Meanwhile the worker sends no replies to that platform: the leader does (the
outbox hands a worker only rows of the platforms it has senders for).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping

from bot.events import Adapter, Outbound

log = logging.getLogger(__name__)

FOLLOW_EVERY = 5.0  # seconds between looks at who leads: a failover's delay, at most


def once_per_bot(adapter: Adapter) -> bool:
    return bool(getattr(adapter, "once_per_bot", False))


class LeaderOnly:
    def __init__(
        self,
        adapters: list[Adapter],
        senders: MutableMapping[str, Callable[[Outbound], Awaitable[None]]],
        leads: Callable[[], Awaitable[bool]],
    ) -> None:
        self._adapters = adapters
        self._senders = senders
        self._leads = leads
        self._running: set[str] = set()

    def standing_by(self, adapter: Adapter) -> bool:
        """Whether the adapter waits for this worker to lead (another worker runs it)."""
        return adapter in self._adapters and adapter.platform not in self._running

    async def follow(self) -> None:
        """Start the adapters if this worker leads now, stop them if it no longer does."""
        leading = await self._leads()
        for adapter in self._adapters:
            if leading and adapter.platform not in self._running:
                await adapter.start()
                self._running.add(adapter.platform)
                self._senders[adapter.platform] = adapter.send
                log.info("this worker leads: it runs %s", adapter.platform)
            elif not leading and adapter.platform in self._running:
                self._senders.pop(adapter.platform, None)
                self._running.discard(adapter.platform)
                await adapter.stop()
                log.warning("this worker no longer leads: %s stopped here", adapter.platform)
