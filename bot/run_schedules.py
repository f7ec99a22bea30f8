"""Runs that start later or again and again, and runs that close by themselves.

`survey start … at 2027-01-04 09:00` starts once; `… every "0 9 1 * *"` starts a new
run at each cron time and closes the one before; `… until 2027-02-01` closes the runs
it makes (or the run started now) at that time. Times are in the configured zone.
Scheduled starts live in the database and are registered again at every start of
civicbot, and every minute (so that each worker sharing a database knows those made
through another); one missed while civicbot was down is caught up once by the worker
that leads, or skipped if its close date has passed, and the coordinator who asked is
told which.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

from bot import commands
from bot.commands import Command
from bot.digest_schedules import SYNC_SECONDS, shortest_gap
from bot.events import Inbound
from bot.run_status import length
from bot.schedule_sync import Registered
from bot.scheduler import Clock, Scheduler, cron_trigger, next_after
from storage.contract import Storage
from storage.records import RunScheduleRow

log = logging.getLogger(__name__)

MIN_RECURRENCE = 24 * 3600.0  # seconds between two starts of a recurring run, at least
CLOSE_EVERY = 60.0  # seconds between looks for runs whose closing time has come
StartRun = Callable[[Command, Inbound], Awaitable[tuple[str, int | None]]]
Tell = Callable[[Inbound, str], Awaitable[None]]


class RunSchedules:
    def __init__(
        self,
        *,
        store: Storage,
        scheduler: Scheduler,
        start_run: StartRun,
        tell: Tell,
        timezone: str,
        clock: Clock,
    ) -> None:
        self._store = store
        self._scheduler = scheduler
        self._start_run = start_run
        self._tell = tell
        self._timezone = timezone
        self._zone = ZoneInfo(timezone)
        self._clock = clock
        self._registered: Registered[RunScheduleRow] = Registered(scheduler, _job_id)

    async def start(self) -> None:
        """Register the stored starts, catch up (or skip) the ones missed while down, and
        look for runs to close every minute."""
        await self.sync()
        self._scheduler.every("run-schedules", SYNC_SECONDS, self.sync, everywhere=True)
        self._scheduler.every("close-runs", CLOSE_EVERY, self.close_due, first_in=0)

    async def sync(self) -> None:
        """Register the stored starts, forget ended ones, and (leading) catch up the ones
        that were missed."""
        stored = [schedule for schedule in await self._store.run_schedules() if not schedule.ended]
        missed = await self._registered.sync(
            stored, register=self._register, missed=self._missed, leads=self._store.lead
        )
        for schedule, due in missed:
            await self.fire(schedule.id, missed=due)

    async def handle(self, command: Command, inbound: Inbound) -> tuple[str, int | None]:
        """A start with a time: schedule it, or start now and close it at `until`."""
        now = self._clock()
        at = self._epoch(command.at) if command.at else None
        until = self._epoch(command.until) if command.until else None
        if at is not None and at <= now:
            return f"{self.shown(at)} has passed; give a time to come.", None
        first = at
        if command.every:
            try:
                trigger = cron_trigger(command.every, self._timezone)
            except ValueError as error:
                return f"'{command.every}' is not a cron time I can use ({error}).", None
            gap = shortest_gap(trigger, now)
            if gap < MIN_RECURRENCE:
                return (
                    f"'{command.every}' would start a new run every {length(gap)}; a recurring "
                    "run starts at most once a day.",
                    None,
                )
            first = next_after(trigger, now)
        if until is not None and until <= (first or now):
            return (
                f"until {self.shown(until)} is not after the start at {self.shown(first or now)}.",
                None,
            )
        if first is None:  # start now, close later
            reply, run_id = await self._start_run(replace(command, until=None), inbound)
            if run_id is not None and until is not None:
                await self._store.set_closing(run_id, at=until)
                reply += f" It closes by itself at {self.shown(until)}."
            return reply, run_id
        schedule = await self._store.add_run_schedule(
            command=commands.without_timing(inbound.text),
            platform=inbound.platform,
            user_id=inbound.user_id,
            conversation_id=inbound.conversation_id,
            at=at,
            cron=command.every,
            timezone=self._timezone,
            until=until,
            created_at=now,
        )
        self._register(schedule)
        return f"Scheduled start S{schedule.id}: {self.describe(schedule)}.", None

    async def fire(self, schedule_id: int, *, missed: float | None = None) -> None:
        """Start the schedule's run now (closing the one it started before)."""
        schedule = next(s for s in await self._store.run_schedules() if s.id == schedule_id)
        if schedule.ended:
            return
        now = self._clock()
        asker = Inbound.command_as(
            platform=schedule.platform,
            user_id=schedule.user_id,
            conversation_id=schedule.conversation_id,
            text=schedule.command,
            event_id=f"schedule:{schedule.id}:{now}",
            now=now,
        )
        if schedule.cron and schedule.last_run_id is not None:
            await self._store.close_run(schedule.last_run_id, now=now)
        when = f" (due at {self.shown(missed)} while civicbot was down)" if missed else ""
        if schedule.until is not None and now >= schedule.until:
            await self._end(schedule.id)
            await self._tell(
                asker, f"Scheduled start S{schedule.id} skipped{when}: its close date has passed."
            )
            return
        parsed = commands.parse(schedule.command)
        try:
            reply, run_id = await self._start_run(parsed, asker)
        except Exception:
            log.exception("the scheduled start S%d failed", schedule.id)
            reply, run_id = "it failed, and has been logged; it tries again next time.", None
        if run_id is not None and schedule.until is not None:
            await self._store.set_closing(run_id, at=schedule.until)
        upcoming = self._next_after(schedule, now)
        ended = upcoming is None or (schedule.until is not None and upcoming >= schedule.until)
        await self._store.run_schedule_fired(schedule.id, at=now, run_id=run_id, ended=ended)
        if ended:
            self._registered.forget(schedule.id)
        caught = " caught up" if missed else ""
        await self._tell(asker, f"Scheduled start S{schedule.id}{caught}{when}: {reply}")

    async def remove(self, schedule_id: int) -> bool:
        return await self._end(schedule_id)

    async def close_due(self) -> None:
        for run_id in await self._store.runs_to_close(now=self._clock()):
            await self._store.close_run(run_id, now=self._clock())
            log.info("run %d closed at its closing time", run_id)
            await self._store.audit(
                now=self._clock(),
                platform="civicbot",
                user_id="schedule",
                command="close at its time",
                allowed=True,
                outcome=f"run {run_id} closed, as scheduled",
                run_id=run_id,
            )

    async def listed(self) -> list[str]:
        """The scheduled starts still to come, for `survey list`."""
        waiting = [s for s in await self._store.run_schedules() if not s.ended]
        if not waiting:
            return []
        return ["Scheduled starts:"] + [f"  S{s.id}: {self.describe(s)}" for s in waiting]

    def describe(self, schedule: RunScheduleRow) -> str:
        upcoming = self._scheduler.next_time(_job_id(schedule.id))
        moment = self.shown(upcoming.timestamp()) if upcoming else "no more"
        how = f", a new run {_in_words(schedule.cron)}" if schedule.cron else ""
        until = f", its runs closing at {self.shown(schedule.until)}" if schedule.until else ""
        return f"'{schedule.command}' next at {moment}{how}{until}"

    def shown(self, moment: float) -> str:
        return datetime.fromtimestamp(moment, self._zone).strftime("%Y-%m-%d %H:%M %Z")

    async def _end(self, schedule_id: int) -> bool:
        self._registered.forget(schedule_id)
        return await self._store.end_run_schedule(schedule_id)

    def _register(self, schedule: RunScheduleRow) -> None:
        self._registered.ids.add(schedule.id)
        job_id, job = _job_id(schedule.id), lambda: self.fire(schedule.id)
        if schedule.cron:
            self._scheduler.cron(job_id, cron_trigger(schedule.cron, schedule.timezone), job)
        elif schedule.at is not None and schedule.at > self._clock():
            self._scheduler.once(job_id, schedule.at, job)

    def _missed(self, schedule: RunScheduleRow) -> float | None:
        """The time it was due while civicbot was down, if it was."""
        due = self._next_after(schedule, schedule.last_fired_at or schedule.created_at)
        return due if due is not None and due <= self._clock() - SYNC_SECONDS else None

    def _next_after(self, schedule: RunScheduleRow, moment: float) -> float | None:
        if not schedule.cron:
            return schedule.at if schedule.at is not None and schedule.at > moment else None
        return next_after(cron_trigger(schedule.cron, schedule.timezone), moment)

    def _epoch(self, local: datetime) -> float:
        return local.replace(tzinfo=self._zone).timestamp()


def _job_id(schedule_id: int) -> str:
    return f"start-{schedule_id}"


def _in_words(cron: str) -> str:
    # imported when asked: `survey list` with a repeating schedule, not every start-up
    from cron_descriptor import get_description

    return get_description(cron)
