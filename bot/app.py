"""Wiring: the one place where the parts are built and connected."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

from bot.config import ConfigError, StorageSettings
from bot.coordination import Coordination
from bot.core import Bot
from bot.delivery_reports import DeliveryReports
from bot.events import Adapter, AdapterFactory, Delivery, Inbound, Outbound, delivered
from bot.health import HealthServer
from bot.invitations import Guardrails
from bot.leader_only import FOLLOW_EVERY, LeaderOnly, once_per_bot
from bot.metrics import Metrics
from bot.outbox import RETRY_DELAYS, SWEEP_SECONDS, OutboxSender, Send
from bot.reminders import QUIET_HOURS, REMIND_EVERY, QuietHours
from bot.retention import RETENTION_EVERY, apply_retention
from bot.roles import Staff
from bot.scheduler import SYSTEM_CLOCK, Clock, Scheduler
from bot.shared_transcripts import SharedTranscripts
from bot.staff_door import StaffDoor
from bot.survey_files import SurveyCatalogue, load_folder
from conversations.checks import Problem
from conversations.outgoing import Message
from conversations.survey import StaffRole
from storage.archive import hold_running_lock
from storage.contract import Storage, is_postgres_url, open_storage

log = logging.getLogger(__name__)

FORGET_EVENTS_EVERY = 3600.0  # seconds
EXPIRE_EVERY = 3600.0
KEEP_ADDRESSES = StorageSettings.model_fields["keep_addresses"].default


@dataclass
class Runtime:
    bot: Bot
    coordination: Coordination
    store: Storage
    outbox: OutboxSender
    surveys: SurveyCatalogue
    adapters: list[Adapter]
    scheduler: Scheduler
    metrics: Metrics
    health: HealthServer | None = None


@asynccontextmanager
async def running(*, database: Path | str, **options: Any) -> AsyncIterator[Runtime]:
    """civicbot running on `database` (the options are `_running`'s). A SQLite file no
    other civicbot may run on meanwhile, nor `civicbot restore` replace; a PostgreSQL
    database (a URL) is shared by as many workers as run."""
    if is_postgres_url(database):
        async with _running(database=database, **options) as runtime:
            yield runtime
        return
    lock = hold_running_lock(database)
    try:
        async with _running(database=database, **options) as runtime:
            yield runtime
    finally:
        os.close(lock)


@asynccontextmanager
async def _running(
    *,
    database: Path | str,
    survey_folder: Path,
    adapters: list[AdapterFactory],
    clock: Clock = SYSTEM_CLOCK,
    environ: dict[str, str] | None = None,
    coordinators: frozenset[str] = frozenset(),
    roles: Mapping[StaffRole, Iterable[str]] | None = None,
    timezone: str = "UTC",
    staff_channel: str | None = None,
    staff_language: str = "en",
    keep_addresses: timedelta = KEEP_ADDRESSES,
    quiet_hours: str = QUIET_HOURS,
    guardrails: Guardrails | None = None,
    health: tuple[str, int] | None = None,
    backup_before_migrating: bool = True,
    send_retry_delays: Iterable[float] = RETRY_DELAYS,
) -> AsyncIterator[Runtime]:
    """Open storage, load surveys, start the adapters, send what the outbox still holds,
    then handle events; on exit stop the adapters and commit what is in flight."""
    surveys = load_folder(survey_folder)
    log.info("loaded %d surveys from %s", len(surveys.surveys), survey_folder)
    for survey in surveys.surveys.values():
        if survey.open and not (survey.staff_channel or staff_channel):
            homeless = Problem(
                survey.id,
                None,
                "open: true, but its digests have nowhere to go: give it a staff_channel, or"
                " set surveys.staff_channel (until then, 'survey start SURVEY for everyone'"
                " in a staff channel adopts its run)",
                "warning",
            )
            surveys.problems.append(homeless)
            log.warning("%s", homeless)
    store = open_storage(database, environ=environ, backup_before_migrating=backup_before_migrating)
    served = fingerprints(surveys)
    if (theirs := await store.serve_surveys(served, now=clock())) is not None:
        await store.close()
        raise ConfigError(
            "surveys.folder: another worker on this database serves other surveys ("
            + differences(served, theirs)
            + "): give every worker the same survey files"
        )
    senders: dict[str, Send] = {}
    metrics = Metrics()
    outbox = OutboxSender(
        store, senders, retry_delays=send_retry_delays, clock=clock, metrics=metrics
    )
    bot = Bot(
        store=store,
        surveys=surveys,
        outbox=outbox,
        clock=clock,
        timezone=timezone,
        staff_channel=staff_channel,
        metrics=metrics,
    )
    by_platform: dict[str, Adapter] = {}
    scheduler = Scheduler(clock=clock, leads=store.lead)
    coordination = Coordination(
        bot=bot,
        store=store,
        surveys=surveys,
        adapters=by_platform,
        outbox=outbox,
        staff=Staff.of(
            {
                **(roles or {}),
                "coordinator": [*coordinators, *(roles or {}).get("coordinator", [])],
            },
            {survey.id: survey.roles for survey in surveys.surveys.values() if survey.roles},
        ),
        scheduler=scheduler,
        timezone=timezone,
        quiet_hours=QuietHours.parse(quiet_hours, timezone),
        guardrails=guardrails,
        staff_language=staff_language,
        metrics=metrics,
        clock=clock,
    )

    resent = asyncio.Event()
    resending: asyncio.Task[None] | None = None
    watching: asyncio.Task[None] | None = None
    checks: HealthServer | None = None

    def route(inbound: Inbound) -> Awaitable[Delivery]:
        if resent.is_set() and not inbound.command:  # nearly every event: one await less
            return bot.dispatch(inbound)
        return routed_later(inbound)

    async def routed_later(inbound: Inbound) -> Delivery:
        await resent.wait()  # what is left from before a restart is known (outbox.unsent)
        if not inbound.command:
            return await bot.dispatch(inbound)
        await coordination.handle(inbound)
        return delivered()

    built = [factory(route) for factory in adapters]
    door = StaffDoor(store, clock)
    # several workers share a database's web transcripts: a poll may land on any of them
    shared = SharedTranscripts(store, clock) if is_postgres_url(database) else None
    for adapter in built:
        if hasattr(adapter, "use_staff_door"):  # a staff sign-in page: the web chat
            adapter.use_staff_door(door)
            coordination.signed_in_platforms.add(adapter.platform)
        if shared is not None and hasattr(adapter, "use_transcripts"):
            adapter.use_transcripts(shared)
        if hasattr(adapter, "use_delivery_reports"):  # text messages: delivered or not
            adapter.use_delivery_reports(DeliveryReports(store, metrics, clock).record)
        if adapter.capabilities.texting:
            bot.texting.add(adapter.platform)
    by_platform.update({adapter.platform: adapter for adapter in built})
    # on a shared database, what a platform allows once per bot runs in the leader only
    leader_only = LeaderOnly(
        [a for a in built if shared is not None and once_per_bot(a)], senders, store.lead
    )
    senders.update({a.platform: a.send for a in built if not leader_only.standing_by(a)})
    if staff_channel is not None:
        outbox.on_dead = partial(_tell_staff_of_dead, by_platform, staff_channel)
    try:
        if shared is not None:
            watching = asyncio.create_task(store.watch_web_messages(shared.heard))
        for adapter in built:
            if not leader_only.standing_by(adapter):
                await adapter.start()
        await leader_only.follow()
        scheduler.every("leader-only", FOLLOW_EVERY, leader_only.follow, everywhere=True)
        # adapters are connected (Matrix needs to know its rooms); new replies into these
        # conversations wait behind what is left, the others go at once
        backlog = await outbox.unsent()
        resending = asyncio.create_task(outbox.resend(backlog))
        resent.set()
        await coordination.start()
        scheduler.every("reminders", REMIND_EVERY, coordination.reminders.send_due)
        _schedule_upkeep(scheduler, store, outbox, surveys, clock, keep_addresses)
        scheduler.start()
        if health is not None:
            checks = HealthServer(
                store=store,
                adapters=built,
                clock=clock,
                host=health[0],
                port=health[1],
                metrics=metrics,
                standing_by=leader_only.standing_by,
            )
            await checks.start()
        yield Runtime(bot, coordination, store, outbox, surveys, built, scheduler, metrics, checks)
    finally:
        if checks is not None:
            await checks.stop()
        await scheduler.stop()
        coordination.digests.close()  # the chart process, if a digest started one
        for task in (resending, watching):  # what it has not sent stays in the outbox
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        for adapter in reversed(built):
            if leader_only.standing_by(adapter):
                continue  # never started here
            try:
                await adapter.stop()
            except Exception:
                log.exception("stopping the %s adapter failed", adapter.platform)
        await bot.settled()
        await outbox.settle()
        await store.close()


def fingerprints(surveys: SurveyCatalogue) -> dict[str, str]:
    """Each survey's content, as a short hash: what workers compare at start."""
    return {
        survey_id: hashlib.sha256(survey.model_dump_json().encode()).hexdigest()[:16]
        for survey_id, survey in surveys.surveys.items()
    }


def differences(ours: dict[str, str], theirs: dict[str, str]) -> str:
    changed = [
        f"{name}: changed" for name in sorted(ours) if name in theirs and ours[name] != theirs[name]
    ]
    changed += [f"{name}: only here" for name in sorted(ours) if name not in theirs]
    changed += [f"{name}: only there" for name in sorted(theirs) if name not in ours]
    return "; ".join(changed)


async def _tell_staff_of_dead(
    adapters: dict[str, Adapter], staff_channel: str, platform: str, reason: str
) -> None:
    """A reply was given up: say so where surveys' digests go by default."""
    where, channel = staff_channel.split(":", 1)
    if where not in adapters:
        return
    text = (
        f"A reply to someone on {platform} could not be delivered ({platform} said {reason})"
        " and will not be tried again. 'survey status' counts such replies."
    )
    await adapters[where].send(Outbound(where, channel, Message(text)))


def _schedule_upkeep(
    scheduler: Scheduler,
    store: Storage,
    outbox: OutboxSender,
    surveys: SurveyCatalogue,
    clock: Clock,
    keep_addresses: timedelta,
) -> None:
    """The periodic work that keeps civicbot healthy (digest schedules register their own)."""

    async def sweep_outbox() -> None:
        """Send again what failed earlier: a platform that was down, a channel that was
        archived and came back."""
        await outbox.resend_unsent(queued_before=clock() - SWEEP_SECONDS)

    async def forget_old_events() -> None:
        forgotten = await store.forget_old_events(clock())
        if forgotten:
            log.info("forgot %d processed event ids past their retention", forgotten)
        if transcripts := await store.forget_web_messages(clock()):
            log.info("forgot %d web chat messages sent over a day ago", transcripts)
        if reports := await store.forget_deliveries(clock()):
            log.info("forgot %d delivery reports past their keeping time", reports)

    async def expire_conversations() -> None:
        """Count abandoned conversations as expired (their people are free already)."""
        for survey in surveys.surveys.values():
            before = clock() - survey.expires_after.total_seconds()
            expired = await store.expire_conversations(survey.id, before=before)
            if expired:
                log.info("%d conversations of %s expired", expired, survey.id)

    async def retention() -> None:
        await apply_retention(store, surveys, keep_addresses=keep_addresses, now=clock())

    scheduler.every("outbox-sweep", SWEEP_SECONDS, sweep_outbox, everywhere=True)
    scheduler.every("retention", RETENTION_EVERY, retention, first_in=0)
    scheduler.every("expire-conversations", EXPIRE_EVERY, expire_conversations, first_in=0)
    scheduler.every("forget-old-events", FORGET_EVENTS_EVERY, forget_old_events, first_in=0)
