"""`civicbot run`: start the configured adapters and serve until SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Callable, Mapping

from bot import platforms
from bot.app import running
from bot.config import ConfigError, Settings, with_credentials
from bot.gc_tuning import tune_for_serving
from bot.invitations import Guardrails
from bot.platforms import Configured, PlatformContext

log = logging.getLogger(__name__)


def configured_platforms(settings: Settings, environ: Mapping[str, str]) -> list[Configured]:
    """The enabled platforms, ready to build; a missing secret raises ConfigError naming it."""
    context = PlatformContext(
        environ=environ, state_folder=settings.storage.database.resolve().parent
    )
    return [
        platforms.module_of(name).from_settings(section, context)
        for name, section in settings.platforms.items()
        if section.enabled
    ]


async def serve(
    settings: Settings,
    *,
    announce: Callable[[str], None] = print,
    environ: Mapping[str, str] | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Run until a stop signal (or `stop` is set); then finish turns in flight and drain
    the outbox. Secrets come from `environ` (the process's environment and systemd's
    credentials unless given)."""
    environ = with_credentials(os.environ) if environ is None else environ
    if stop is None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
    folder = settings.surveys.folder
    if not folder.is_dir():
        raise ConfigError(f"surveys.folder: {folder} is not a folder")
    configured = configured_platforms(settings, environ)
    coordinators = frozenset(settings.coordinators).union(
        *(platform.coordinators for platform in configured)
    )
    async with running(
        database=settings.storage.url or settings.storage.database,
        keep_addresses=settings.storage.keep_addresses,
        backup_before_migrating=settings.storage.backup_before_migrating,
        quiet_hours=settings.quiet_hours,
        guardrails=Guardrails(**settings.guardrails.model_dump()),
        health=(settings.health.host, settings.health.port) if settings.health.enabled else None,
        survey_folder=settings.surveys.folder,
        adapters=[platform.build for platform in configured],
        coordinators=coordinators,
        roles=settings.roles,
        timezone=settings.timezone,
        staff_language=settings.surveys.staff_language,
        staff_channel=settings.surveys.staff_channel
        or next((p.staff_channel for p in configured if p.staff_channel), None),
        environ=dict(environ),
    ) as runtime:
        tune_for_serving()
        for problem in runtime.surveys.problems:
            announce(f"survey problem: {problem}")
        if not runtime.surveys.surveys:
            raise ConfigError(
                f"surveys.folder: {folder} holds no survey that loads"
                + ("" if runtime.surveys.problems else " (no *.yaml or *.yml file)")
            )
        lines = [
            f"civicbot is running with {len(runtime.surveys.surveys)} surveys, "
            f"answers in {settings.storage.url or settings.storage.database}",
            *(adapter.describe() for adapter in runtime.adapters),
        ]
        announce("\n".join(lines))
        await stop.wait()
        announce("civicbot is stopping: finishing the turns in progress")
        await runtime.outbox.resend_unsent()
    announce("civicbot stopped")
