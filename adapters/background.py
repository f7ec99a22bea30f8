"""What an adapter goes on with after it has answered its platform: a turn the platform
was told of only once it was stored, a command whose answer comes later. Each task is
held until it is done (so none is collected half-way), and a stop waits for them all."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any


class Background:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def start(self, work: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def within(self, work: Coroutine[Any, Any, Any], seconds: float) -> Any:
        """Start `work` and wait for it at most `seconds` (TimeoutError past them); it
        goes on either way."""
        return await asyncio.wait_for(asyncio.shield(self.start(work)), seconds)

    async def settled(self) -> None:
        """Wait until every task started, and every task they start, is done."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
