"""`civicbot run`: start the configured adapters and serve until SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import signal
from collections.abc import Callable, Mapping

from adapters.matrix import MatrixAdapter, MatrixLogin
from adapters.slack import SlackAdapter
from adapters.web import PLATFORM, STAFF, WebAdapter
from bot.app import AdapterFactory, Runtime, running
from bot.collector import tune_for_serving
from bot.config import ConfigError, Settings, secret

log = logging.getLogger(__name__)


LOOPBACK = ("127.0.0.1", "localhost", "::1")


def staff_key(settings: Settings, environ: Mapping[str, str]) -> str | None:
    """The key that opens the web staff page: from the environment, or — only when the
    chat listens on this machine alone — a new one each start. Otherwise no staff page."""
    key = environ.get(settings.web.staff_key_env)
    if key:
        return key
    return secrets.token_urlsafe(24) if settings.web.host in LOOPBACK else None


def adapter_factories(
    settings: Settings, key: str | None, environ: Mapping[str, str]
) -> list[AdapterFactory]:
    """The configured adapters; a missing secret raises ConfigError naming it."""
    factories: list[AdapterFactory] = []
    slack = settings.slack
    if slack.enabled:
        token = secret(environ, "slack.bot_token_env", slack.bot_token_env)
        signing = secret(environ, "slack.signing_secret_env", slack.signing_secret_env)
        factories.append(
            lambda handler: SlackAdapter(
                handler,
                bot_token=token,
                signing_secret=signing,
                host=slack.host,
                port=slack.port,
                path=slack.path,
            )
        )
    matrix = settings.matrix
    if matrix.enabled:
        login = MatrixLogin(
            user_id=matrix.user_id,
            device_id=matrix.device_id,
            access_token=environ.get(matrix.access_token_env) or None,
            password=environ.get(matrix.password_env) or None,
        )
        if not (login.access_token or login.password):
            raise ConfigError(
                f"matrix: set the environment variable {matrix.access_token_env} "
                f"(an access token) or {matrix.password_env} (the bot's password)"
            )
        state_folder = settings.storage.database.resolve().parent
        store_key = environ.get(matrix.store_key_env) or None
        factories.append(
            lambda handler: MatrixAdapter(
                handler,
                homeserver=matrix.homeserver,
                login=login,
                state_folder=state_folder,
                store_key=store_key,
            )
        )
    web = settings.web
    if web.enabled:
        secure = bool(web.public_url and web.public_url.startswith("https://"))
        factories.append(
            lambda handler: WebAdapter(
                handler,
                host=web.host,
                port=web.port,
                secure_cookie=secure,
                staff_key=key,
                trusted_proxies=web.trusted_proxies,
                address_limit=(web.address_burst, web.address_per_second),
            )
        )
    return factories


async def serve(
    settings: Settings,
    *,
    announce: Callable[[str], None] = print,
    environ: Mapping[str, str] = os.environ,
) -> None:
    """Run until a stop signal; then finish turns in flight and drain the outbox."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    key = staff_key(settings, environ) if settings.web.enabled else None
    coordinators = set(settings.coordinators)
    if key:
        coordinators.add(f"{PLATFORM}:{STAFF}")  # holding the staff key is the permission
    async with running(
        database=settings.storage.database,
        survey_folder=settings.surveys.folder,
        adapters=adapter_factories(settings, key, environ),
        coordinators=frozenset(coordinators),
        timezone=settings.timezone,
    ) as runtime:
        tune_for_serving()
        for problem in runtime.surveys.problems:
            announce(f"survey problem: {problem}")
        printed_key = key if not environ.get(settings.web.staff_key_env) else None
        announce(_where(settings, runtime, printed_key))
        await stop.wait()
        announce("civicbot is stopping: finishing the turns in progress")
        await runtime.outbox.resend_unsent()
    announce("civicbot stopped")


def _where(settings: Settings, runtime: Runtime, printed_key: str | None) -> str:
    lines = [
        f"civicbot is running with {len(runtime.surveys.surveys)} surveys, "
        f"answers in {settings.storage.database}"
    ]
    for adapter in runtime.adapters:
        if isinstance(adapter, SlackAdapter):
            lines.append(adapter.describe())
        if isinstance(adapter, MatrixAdapter):
            lines.append(f"Matrix: syncing as {settings.matrix.user_id}")
        if isinstance(adapter, WebAdapter):
            url = settings.web.public_url or f"http://{settings.web.host}:{adapter.port}/"
            lines.append(f"open {url} to answer a survey in the web chat")
            if printed_key:
                lines.append(
                    f"open {url}staff?key={printed_key} for the staff page (commands, digests)"
                )
    return "\n".join(lines)
