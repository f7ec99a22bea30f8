"""Every job that runs on a clock, in one place: scheduled digests, outbox sweeps, the
forgetting of old event ids, and whatever periodic work comes next.

A job has an APScheduler trigger (a cron time in a time zone, or an interval) and
an async function. APScheduler's triggers do the calendar arithmetic (cron
fields, daylight saving, month ends); the loop that waits for the next fire time
is this module's, because APScheduler 3's schedulers read the wall clock
themselves, so tests could only wait for them. Here the clock is passed in: tests
move a `Clock` forward and the due jobs run at once.

A job that fails is logged and runs again at its next time; a job still running
when its next time comes is not started twice; several missed times fire once.

Where several workers share a database, a job runs only in the one that leads (the
storage elects it, `Storage.lead`), unless it is work each worker does for itself.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

log = logging.getLogger(__name__)

Job = Callable[[], Awaitable[object]]


class Clock(Protocol):
    """Seconds since the epoch when called, and a sleep measured on the same clock."""

    def __call__(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def __call__(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


SYSTEM_CLOCK = SystemClock()


def cron_trigger(cron: str, timezone: str) -> CronTrigger:
    """A five-field cron time; ValueError with the reason if it is not one."""
    return CronTrigger.from_crontab(cron, timezone=timezone)


@dataclass
class _Entry:
    trigger: BaseTrigger
    job: Job
    next_time: datetime | None
    running: asyncio.Task[None] | None = None
    everywhere: bool = False  # each worker's own work: runs whether or not it leads


_INSTANT = timedelta(microseconds=1)


def next_after(trigger: BaseTrigger, moment: float) -> float | None:
    """The trigger's first time strictly after `moment` (seconds since the epoch), so
    that a time fired at exactly is not due again; None when it fires no more. (Given
    a previous time instead, a trigger would step through every time missed since.)"""
    upcoming = trigger.get_next_fire_time(None, datetime.fromtimestamp(moment, UTC) + _INSTANT)
    return None if upcoming is None else upcoming.timestamp()


class Scheduler:
    def __init__(
        self, *, clock: Clock = SYSTEM_CLOCK, leads: Callable[[], Awaitable[bool]] | None = None
    ) -> None:
        self._clock = clock
        self._leads = leads
        self._entries: dict[str, _Entry] = {}
        self._changed = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._processed_at: float | None = None  # the clock time the loop last looked at
        self._progress = asyncio.Condition()

    def cron(self, job_id: str, trigger: CronTrigger, job: Job) -> None:
        """Run `job` at every time of `trigger` from now on (replacing a job of that id)."""
        self._add(job_id, trigger, job)

    def once(self, job_id: str, when: float, job: Job) -> None:
        """Run `job` once at `when` (seconds since the epoch)."""
        self._add(job_id, DateTrigger(datetime.fromtimestamp(when, UTC)), job)

    def every(
        self,
        job_id: str,
        seconds: float,
        job: Job,
        *,
        first_in: float | None = None,
        everywhere: bool = False,
    ) -> None:
        """Run `job` every so many seconds, the first time that long from now (or
        `first_in` seconds from now); `everywhere`: in every worker, not only the leader."""
        first = self._clock() + (seconds if first_in is None else first_in)
        start = datetime.fromtimestamp(first, UTC)
        self._add(job_id, IntervalTrigger(seconds=seconds, start_date=start), job, everywhere)

    def remove(self, job_id: str) -> bool:
        removed = self._entries.pop(job_id, None) is not None
        self._changed.set()
        return removed

    def next_time(self, job_id: str) -> datetime | None:
        """When the job runs next, in its trigger's time zone."""
        entry = self._entries.get(job_id)
        if entry is None or entry.next_time is None:
            return None
        # a cron or interval trigger has a zone; a one-off's time carries its own (UTC)
        return entry.next_time.astimezone(getattr(entry.trigger, "timezone", UTC))

    def start(self) -> None:
        self._loop_task = asyncio.get_running_loop().create_task(self._run(), name="scheduler")

    async def stop(self) -> None:
        """Stop waiting; jobs running now finish first."""
        if self._loop_task is not None:
            self._loop_task.cancel()
            await asyncio.gather(self._loop_task, return_exceptions=True)
        running = [e.running for e in self._entries.values() if e.running is not None]
        await asyncio.gather(*running, return_exceptions=True)

    async def settled(self) -> None:
        """Wait until every job due by the clock's present time has run. For a clock that
        moves only when told (tests); the system clock never stands still for it."""
        self._changed.set()  # the loop looks at the clock again, whether or not a sleep ended
        async with self._progress:
            await self._progress.wait_for(
                lambda: (
                    self._processed_at is not None
                    and self._processed_at >= self._clock()
                    and not any(e.running for e in self._entries.values())
                )
            )

    def _add(self, job_id: str, trigger: BaseTrigger, job: Job, everywhere: bool = False) -> None:
        now = self._now()
        first = trigger.get_next_fire_time(None, now)
        self._entries[job_id] = _Entry(trigger, job, first, everywhere=everywhere)
        self._changed.set()

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    async def _run(self) -> None:
        while True:
            self._changed.clear()
            now = self._now()
            for job_id, entry in list(self._entries.items()):
                if entry.next_time is not None and entry.next_time <= now:
                    # coalesced: the first time after now, however many were missed
                    upcoming = next_after(entry.trigger, now.timestamp())
                    entry.next_time = (
                        None if upcoming is None else datetime.fromtimestamp(upcoming, UTC)
                    )
                    if entry.running is None:
                        entry.running = asyncio.get_running_loop().create_task(
                            self._fire(job_id, entry)
                        )
            await self._note_progress(now.timestamp())
            upcoming = [e.next_time for e in self._entries.values() if e.next_time is not None]
            wait = (min(upcoming) - now).total_seconds() if upcoming else None
            await self._until(wait)

    async def _fire(self, job_id: str, entry: _Entry) -> None:
        try:
            if entry.everywhere or self._leads is None or await self._leads():
                await entry.job()
        except Exception:
            log.exception("the scheduled job %s failed; it runs again at its next time", job_id)
        finally:
            entry.running = None
            await self._note_progress(self._processed_at or 0.0)

    async def _note_progress(self, at: float) -> None:
        async with self._progress:
            self._processed_at = at
            self._progress.notify_all()

    async def _until(self, wait: float | None) -> None:
        """Sleep until the next fire time, or until a job is added or removed."""
        changed = asyncio.ensure_future(self._changed.wait())
        waiters = {changed}
        if wait is not None:
            waiters.add(asyncio.ensure_future(self._clock.sleep(max(wait, 0.0))))
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
