"""Wiring: the one place where the parts are built and connected."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from bot.coordination import Coordination
from bot.core import Bot
from bot.events import Adapter, AdapterFactory, Inbound
from bot.outbox import RETRY_DELAYS, OutboxSender, Send
from bot.survey_files import SurveyCatalogue, load_folder
from storage.contract import Storage, open_storage

log = logging.getLogger(__name__)

FORGET_EVENTS_EVERY = 3600.0  # seconds


@dataclass
class Runtime:
    bot: Bot
    coordination: Coordination
    store: Storage
    outbox: OutboxSender
    surveys: SurveyCatalogue
    adapters: list[Adapter]


@asynccontextmanager
async def running(
    *,
    database: Path,
    survey_folder: Path,
    adapters: list[AdapterFactory],
    clock: Callable[[], float] = time.time,
    environ: dict[str, str] | None = None,
    coordinators: frozenset[str] = frozenset(),
    timezone: str = "UTC",
    send_retry_delays: Iterable[float] = RETRY_DELAYS,
) -> AsyncIterator[Runtime]:
    """Open storage, load surveys, start the adapters, send what the outbox still holds,
    then handle events; on exit stop the adapters and commit what is in flight."""
    surveys = load_folder(survey_folder)
    log.info("loaded %d surveys from %s", len(surveys.surveys), survey_folder)
    store = open_storage(database, environ=environ)
    senders: dict[str, Send] = {}
    outbox = OutboxSender(store, senders, retry_delays=send_retry_delays)
    bot = Bot(
        store=store,
        surveys=surveys,
        outbox=outbox,
        clock=clock,
        timezone=timezone,
    )
    by_platform: dict[str, Adapter] = {}
    coordination = Coordination(
        bot=bot,
        store=store,
        surveys=surveys,
        adapters=by_platform,
        outbox=outbox,
        coordinators=coordinators,
        timezone=timezone,
        clock=clock,
    )

    resent = asyncio.Event()

    async def route(inbound: Inbound) -> None:
        await resent.wait()  # replies left from before a restart go out before new ones
        if inbound.command:
            await coordination.handle(inbound)
        else:
            await bot.dispatch(inbound)

    built = [factory(route) for factory in adapters]
    by_platform.update({adapter.platform: adapter for adapter in built})
    senders.update({adapter.platform: adapter.send for adapter in built})
    try:
        for adapter in built:
            await adapter.start()
        await outbox.resend_unsent()  # adapters are connected: Matrix needs to know its rooms
        resent.set()
        await coordination.start()
        loop = asyncio.get_running_loop()
        background = [
            loop.create_task(outbox.keep_sending(clock=clock)),
            loop.create_task(_keep_forgetting_old_events(store, clock)),
        ]
        try:
            yield Runtime(bot, coordination, store, outbox, surveys, built)
        finally:
            for task in background:
                task.cancel()
    finally:
        coordination.stop()
        for adapter in reversed(built):
            try:
                await adapter.stop()
            except Exception:
                log.exception("stopping the %s adapter failed", adapter.platform)
        await outbox.settle()
        await store.close()


async def _keep_forgetting_old_events(store: Storage, clock: Callable[[], float]) -> None:
    """At start and then hourly: event ids past their retention are forgotten."""
    while True:
        try:
            forgotten = await store.forget_old_events(clock())
            if forgotten:
                log.info("forgot %d processed event ids past their retention", forgotten)
        except Exception:
            log.exception("forgetting old event ids failed; trying again in an hour")
        await asyncio.sleep(FORGET_EVENTS_EVERY)
