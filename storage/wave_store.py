"""The storage contract's part for invitation waves (storage/waves.py): the protocol
`Storage` includes, and its implementation, a part of `SqlStore`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, Protocol

from storage import waves
from storage.dialect import Connection
from storage.recent import RecentConversations
from storage.writer import GroupCommitWriter


class WaveStorage(Protocol):
    async def queue_invitations(
        self, run_id: int, people: list[tuple[str, str, str, str]], *, now: float
    ) -> int:
        """Store (pid, platform, user id, conversation id) as addresses and queue them
        for the run's invitations, in one commit; how many were not queued already."""
        ...

    async def queued_invitations(
        self, run_id: int, *, most: int
    ) -> list[tuple[str, str, str, str]]:
        """The next `most` people queued for the run, oldest first, with their address."""
        ...

    async def unqueue_invitations(self, run_id: int, pids: list[str]) -> None:
        """These people's invitations are stored (or skipped): off the queue."""
        ...

    async def waiting_waves(self) -> list[int]:
        """The open runs with invitations still queued (a restart goes on with them)."""
        ...


class WaveStore:
    writer: GroupCommitWriter
    _scan: Callable[[Callable[[Connection], Any]], Awaitable[Any]]
    _recent: RecentConversations

    async def queue_invitations(
        self, run_id: int, people: list[tuple[str, str, str, str]], *, now: float
    ) -> int:
        queued = await self.writer.write(
            partial(waves.queue, run_id=run_id, people=people, now=now)
        )
        for pid, *_ in people:  # their address may be new
            self._recent.forget(pid)
        return queued

    async def queued_invitations(
        self, run_id: int, *, most: int
    ) -> list[tuple[str, str, str, str]]:
        return await self._scan(partial(waves.queued, run_id=run_id, most=most))

    async def unqueue_invitations(self, run_id: int, pids: list[str]) -> None:
        await self.writer.write(partial(waves.unqueue, run_id=run_id, pids=pids))

    async def waiting_waves(self) -> list[int]:
        return await self.writer.write(waves.waiting_runs)
