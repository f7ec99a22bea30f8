"""Digests on a schedule: cron times in the configured time zone, kept in the database.

Stored schedules are registered with the scheduler (bot/scheduler.py) at start, so
a restart loses none, and again every minute, so that each worker sharing a database
knows those made through another. A fire time that passed while the bot was down is
caught up once, by the worker that leads; the digest watermark makes sure nothing is
counted twice.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from itertools import pairwise

from apscheduler.triggers.cron import CronTrigger

from bot.digest_posting import DigestNotPosted
from bot.schedule_sync import Registered
from bot.scheduler import Clock, Scheduler, cron_trigger, next_after
from storage.contract import Storage
from storage.records import ScheduleRow

log = logging.getLogger(__name__)

PostDigest = Callable[[int], Awaitable[str]]
TellMaker = Callable[[ScheduleRow, str], Awaitable[None]]
MIN_INTERVAL = 3600.0  # seconds between two digests of one schedule, at least
# How often each worker looks for schedules made or removed through another. A fire
# time is caught up only once it is this long past, so that a digest posting at its
# time is not caught up meanwhile.
SYNC_SECONDS = 60.0


class DigestSchedules:
    def __init__(
        self,
        *,
        store: Storage,
        scheduler: Scheduler,
        post: PostDigest,
        tell: TellMaker,
        timezone: str,
        clock: Clock,
    ) -> None:
        self._store = store
        self._scheduler = scheduler
        self._post = post
        self._tell = tell
        self._timezone = timezone
        self._clock = clock
        self._registered: Registered[ScheduleRow] = Registered(scheduler, _job_id)

    async def start(self) -> int:
        """Register every stored schedule and catch up missed digests; returns how many."""
        caught_up = await self.sync()
        self._scheduler.every("digest-schedules", SYNC_SECONDS, self.sync, everywhere=True)
        return caught_up

    async def sync(self) -> int:
        """Register the stored schedules, forget removed ones, and (leading) catch up the
        digests that were missed; how many were."""
        missed = await self._registered.sync(
            await self._store.schedules(),
            register=self._register,
            missed=self._missed,
            leads=self._store.lead,
        )
        for schedule, _ in missed:
            log.info("catching up the digest of schedule %d missed while down", schedule.id)
            await self.fire(schedule)
        return len(missed)

    async def add(
        self, run_id: int, cron: str, *, made_by: str | None = None, made_in: str | None = None
    ) -> ScheduleRow:
        """Raises ValueError with the reason when `cron` is not a valid five-field time, or
        fires more often than hourly (a digest nobody could read in time). `made_by` and
        `made_in` are told when a digest cannot go out."""
        trigger = cron_trigger(cron, self._timezone)  # refuse a bad cron before storing it
        if (gap := shortest_gap(trigger, self._clock())) < MIN_INTERVAL:
            raise ValueError(f"it fires every {gap / 60:.0f} minutes; digests come at most hourly")
        schedule = await self._store.add_schedule(
            run_id=run_id,
            cron=cron,
            timezone=self._timezone,
            now=self._clock(),
            made_by=made_by,
            made_in=made_in,
        )
        self._register(schedule)
        return schedule

    async def remove(self, schedule_id: int) -> bool:
        removed = await self._store.remove_schedule(schedule_id)
        self._registered.forget(schedule_id)
        return removed

    def next_time(self, schedule_id: int) -> datetime | None:
        """When the schedule fires next, in its time zone."""
        return self._scheduler.next_time(_job_id(schedule_id))

    async def fire(self, schedule: ScheduleRow) -> None:
        """Post the run's digest now and note when. A digest that cannot go out is told to
        whoever made the schedule, where they made it; the schedule stays."""
        run_id = schedule.run_id
        try:
            await self._post(run_id)
        except DigestNotPosted as failure:
            log.warning("the scheduled digest of run %d was not posted", run_id)
            if failure.kept:
                await self._store.schedule_fired(schedule.id, at=self._clock())
            await self._tell(schedule, f"Schedule {schedule.id}: {failure}")
            return
        except Exception:
            log.exception("the scheduled digest of run %d failed", run_id)
            await self._tell(
                schedule,
                f"Schedule {schedule.id}: the digest of run {run_id} failed to post; the "
                "reason is in civicbot's log. The schedule stays.",
            )
            return
        await self._store.schedule_fired(schedule.id, at=self._clock())

    def _register(self, schedule: ScheduleRow) -> None:
        self._registered.ids.add(schedule.id)
        self._scheduler.cron(
            _job_id(schedule.id),
            cron_trigger(schedule.cron, schedule.timezone),
            lambda: self.fire(schedule),
        )

    def _missed(self, schedule: ScheduleRow) -> float | None:
        """The fire time it missed, if it did."""
        trigger = cron_trigger(schedule.cron, schedule.timezone)
        due = next_after(trigger, schedule.last_fired_at or schedule.created_at)
        return due if due is not None and due <= self._clock() - SYNC_SECONDS else None


def shortest_gap(trigger: CronTrigger, now: float, firings: int = 60) -> float:
    """The shortest time between two of the trigger's next firings, in seconds."""
    times: list[datetime] = []
    moment = datetime.fromtimestamp(now, UTC)
    while len(times) < firings:
        nxt = trigger.get_next_fire_time(times[-1] if times else None, moment)
        if nxt is None:
            break
        times.append(nxt)
        moment = nxt + timedelta(seconds=1)
    gaps = [(b - a).total_seconds() for a, b in pairwise(times)]
    return min(gaps, default=float("inf"))


def _job_id(schedule_id: int) -> str:
    return f"digest-{schedule_id}"
