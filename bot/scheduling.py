"""Digests on a schedule: cron times in the configured time zone, kept in the database.

Schedules are registered with APScheduler (3.x, AsyncIOScheduler) at start, so a
restart loses none. A fire time that passed while the bot was down is caught up
once at start; the digest watermark makes sure nothing is counted twice.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger

from storage.contract import Storage
from storage.records import ScheduleRow

log = logging.getLogger(__name__)

PostDigest = Callable[[int], Awaitable[str]]


class DigestSchedule:
    def __init__(
        self,
        *,
        store: Storage,
        post: PostDigest,
        timezone: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._post = post
        self._timezone = timezone
        self._clock = clock
        self._scheduler = AsyncIOScheduler(timezone=timezone)

    def trigger(self, cron: str) -> CronTrigger:
        """Raises ValueError with the reason when `cron` is not a valid five-field time."""
        return CronTrigger.from_crontab(cron, timezone=self._timezone)

    async def start(self) -> int:
        """Register every stored schedule and catch up missed digests; returns how many."""
        self._scheduler.start()
        caught_up = 0
        for schedule in await self._store.schedules():
            self._register(schedule)
            if self._missed(schedule):
                log.info("catching up the digest of schedule %d missed while down", schedule.id)
                await self.fire(schedule.id, schedule.run_id)
                caught_up += 1
        return caught_up

    def stop(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)

    async def add(self, run_id: int, cron: str) -> ScheduleRow:
        self.trigger(cron)  # refuse a bad cron before storing it
        schedule = await self._store.add_schedule(
            run_id=run_id,
            cron=cron,
            timezone=self._timezone,
            now=self._clock(),
        )
        self._register(schedule)
        return schedule

    async def remove(self, schedule_id: int) -> bool:
        removed = await self._store.remove_schedule(schedule_id)
        if self._scheduler.get_job(_job_id(schedule_id)):
            self._scheduler.remove_job(_job_id(schedule_id))
        return removed

    def next_time(self, schedule_id: int) -> datetime | None:
        job = self._scheduler.get_job(_job_id(schedule_id))
        return job.next_run_time if job else None

    async def fire(self, schedule_id: int, run_id: int) -> None:
        """Post the run's digest now and note when; a failure is logged, the schedule stays."""
        try:
            await self._post(run_id)
            await self._store.schedule_fired(schedule_id, at=self._clock())
        except Exception:
            log.exception("the scheduled digest of run %d failed", run_id)

    def _register(self, schedule: ScheduleRow) -> None:
        self._scheduler.add_job(
            self.fire,
            CronTrigger.from_crontab(schedule.cron, timezone=schedule.timezone),
            args=(schedule.id, schedule.run_id),
            id=_job_id(schedule.id),
            replace_existing=True,
            coalesce=True,  # several missed times make one digest
            misfire_grace_time=3600,
        )

    def _missed(self, schedule: ScheduleRow) -> bool:
        trigger = CronTrigger.from_crontab(schedule.cron, timezone=schedule.timezone)
        # a hair later, so a time fired at exactly does not count as due again
        since = datetime.fromtimestamp((schedule.last_fired_at or schedule.created_at) + 1e-3, UTC)
        due = trigger.get_next_fire_time(None, since)
        return due is not None and due.timestamp() <= self._clock()


def _job_id(schedule_id: int) -> str:
    return f"digest-{schedule_id}"
