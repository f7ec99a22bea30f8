"""Schedules kept in the database, as one worker has registered them with its scheduler.

Each worker registers at every sync those made through another worker and forgets the
removed ones; a fire time that passed while no worker ran it is caught up once, by the
worker that leads (digest schedules and scheduled starts both work this way)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, Protocol, TypeVar

from bot.scheduler import Scheduler


class Stored(Protocol):
    id: int


Row = TypeVar("Row", bound=Stored)


class Registered(Generic[Row]):
    def __init__(self, scheduler: Scheduler, job_id: Callable[[int], str]) -> None:
        self._scheduler = scheduler
        self._job_id = job_id
        self.ids: set[int] = set()  # registered by this worker
        self._caught_up: dict[int, float] = {}  # the fire time each was last caught up for

    async def sync(
        self,
        stored: Sequence[Row],
        *,
        register: Callable[[Row], None],
        missed: Callable[[Row], float | None],
        leads: Callable[[], Awaitable[bool]],
    ) -> list[tuple[Row, float]]:
        """Register what is new, forget what is gone; the (row, fire time) to catch up now,
        each once: none unless this worker leads."""
        for gone in self.ids - {row.id for row in stored}:
            self.forget(gone)
        due = []
        for row in stored:
            if row.id not in self.ids:
                register(row)
            moment = missed(row)
            if moment is not None and self._caught_up.get(row.id) != moment:
                due.append((row, moment))
        if not due or not await leads():
            return []
        for row, moment in due:
            self._caught_up[row.id] = moment  # once: one that failed is not retold
        return due

    def forget(self, row_id: int) -> None:
        self._scheduler.remove(self._job_id(row_id))
        self.ids.discard(row_id)
