"""Deadlines for the HTTP servers civicbot runs (the web chat, Slack's endpoint, the
health checks), so that clients that send slowly cannot hold connections open.

aiohttp closes a connection that stays idle for `keepalive_timeout`, and that timer
also runs while a request's headers are only partly there; it has no deadline for a
body, which the middleware here sets. Long polls are not affected: the timers run
only while the server waits for a request, not while it answers one.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import web

log = logging.getLogger(__name__)

REQUEST_WITHIN = 15.0  # seconds for a request's headers, and then for its body


def runner(app: web.Application, within: float = REQUEST_WITHIN) -> web.AppRunner:
    """An AppRunner that closes connections idle, or sending headers, longer than
    `within`, and reads what is left of a refused body for no longer than that; with no
    access log (requests carry citizens' text and addresses)."""
    return web.AppRunner(app, access_log=None, keepalive_timeout=within, lingering_time=within)


def body_deadline(within: float = REQUEST_WITHIN) -> Any:
    """A middleware that answers 408, and closes the connection, when a request's body
    has not arrived within `within` seconds."""

    @web.middleware
    async def timely_body(request: web.Request, handler: Any) -> web.StreamResponse:
        if request.can_read_body:
            try:
                async with asyncio.timeout(within):
                    await request.read()  # kept by the request for the handler
            except TimeoutError:
                log.info("closed a request whose body took longer than %g s", within)
                late = web.Response(status=408, text="the request took too long to arrive")
                late.force_close()
                return late
        return await handler(request)

    return timely_body
