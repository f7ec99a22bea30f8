"""`civicbot run`: start the configured adapters and serve until SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable

from adapters.web import WebAdapter
from bot.app import AdapterFactory, Runtime, running
from bot.config import Settings

log = logging.getLogger(__name__)


def adapter_factories(settings: Settings) -> list[AdapterFactory]:
    factories: list[AdapterFactory] = []
    web = settings.web
    if web.enabled:
        secure = bool(web.public_url and web.public_url.startswith("https://"))
        factories.append(
            lambda handler: WebAdapter(handler, host=web.host, port=web.port, secure_cookie=secure)
        )
    return factories


async def serve(settings: Settings, *, announce: Callable[[str], None] = print) -> None:
    """Run until a stop signal; then finish turns in flight and drain the outbox."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with running(
        database=settings.storage.database,
        survey_folder=settings.surveys.folder,
        adapters=adapter_factories(settings),
        coordinators=frozenset(settings.coordinators),
        timezone=settings.timezone,
    ) as runtime:
        for problem in runtime.surveys.problems:
            announce(f"survey problem: {problem}")
        announce(_where(settings, runtime))
        await stop.wait()
        announce("civicbot is stopping: finishing the turns in progress")
        await runtime.outbox.resend_unsent()
    announce("civicbot stopped")


def _where(settings: Settings, runtime: Runtime) -> str:
    lines = [
        f"civicbot is running with {len(runtime.surveys.surveys)} surveys, "
        f"answers in {settings.storage.database}"
    ]
    for adapter in runtime.adapters:
        if isinstance(adapter, WebAdapter):
            url = settings.web.public_url or f"http://{settings.web.host}:{adapter.port}/"
            lines.append(f"open {url} to answer a survey in the web chat")
    return "\n".join(lines)
