"""The web chat: a plain page for people without a Slack or Matrix account.

Translation only: a POST becomes an `Inbound`, an `Outbound` becomes an entry in
the session's transcript, which the page fetches by long-polling. A session is a
random token in an HttpOnly, SameSite=Strict cookie; the platform user id is a
hash of it, so the database never holds the token itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import re
import secrets
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from aiohttp import web

from bot.events import Capabilities, Inbound, InboundHandler, Outbound

log = logging.getLogger(__name__)

PLATFORM = "web"
COOKIE = "civicbot_session"
MAX_BODY_BYTES = 64 * 1024
TRANSCRIPT_LENGTH = 100  # messages kept per session for a reload
MAX_SESSIONS = 10_000  # least recently active sessions beyond this are forgotten
POLL_SECONDS = 25.0
BURST, REFILL_PER_SECOND = 8, 1.0  # rate limit per session: a burst, then one a second
_EVENT_ID = re.compile(r"^[A-Za-z0-9-]{8,64}$")
_STATIC = {"chat.css": "text/css", "chat.js": "text/javascript"}
_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


@dataclass
class _Session:
    transcript: deque[dict[str, Any]] = field(
        default_factory=lambda: deque(maxlen=TRANSCRIPT_LENGTH)
    )
    sequence: int = 0
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    tokens: float = BURST
    refilled: float = field(default_factory=time.monotonic)

    def allow(self) -> bool:
        now = time.monotonic()
        self.tokens = min(BURST, self.tokens + (now - self.refilled) * REFILL_PER_SECOND)
        self.refilled = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


class WebAdapter:
    platform = PLATFORM
    capabilities = Capabilities(buttons=True, max_message_length=10_000)

    def __init__(
        self,
        handler: InboundHandler,
        *,
        host: str = "127.0.0.1",
        port: int = 8080,
        secure_cookie: bool = False,
    ) -> None:
        self._handler = handler
        self._host = host
        self._port = port
        self._secure_cookie = secure_cookie
        self._sessions: OrderedDict[str, _Session] = OrderedDict()
        self._runner: web.AppRunner | None = None
        self._stopping = False
        self.port = port  # the bound port once started (port 0 picks a free one)

    def app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY_BYTES, middlewares=[_headers])
        app.router.add_get("/", self._page)
        app.router.add_get("/static/{name}", self._static)
        app.router.add_get("/api/messages", self._poll)
        app.router.add_post("/api/messages", self._receive)
        return app

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app(), access_log=None)  # no citizen data in logs
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        """Stop accepting; requests in flight (turns being stored) finish first, and
        waiting polls are answered at once."""
        self._stopping = True
        for session in self._sessions.values():
            session.changed.set()
        if self._runner is not None:
            await self._runner.cleanup()

    async def send(self, outbound: Outbound) -> None:
        session = self._session(outbound.conversation_id)
        session.sequence += 1
        session.transcript.append(
            {
                "seq": session.sequence,
                "id": outbound.outbox_id,
                "text": outbound.text,
                "choices": [{"label": c.label, "value": c.value} for c in outbound.choices],
                "numbered": outbound.numbered,
                "multiple": outbound.multiple,
            }
        )
        session.changed.set()

    def _session(self, user_id: str) -> _Session:
        session = self._sessions.get(user_id)
        if session is None:
            session = self._sessions[user_id] = _Session()
            if len(self._sessions) > MAX_SESSIONS:
                self._sessions.popitem(last=False)
        self._sessions.move_to_end(user_id)
        return session

    async def _page(self, request: web.Request) -> web.StreamResponse:
        page = resources.files("adapters").joinpath("web_static/chat.html").read_text("utf-8")
        response = web.Response(text=page, content_type="text/html", charset="utf-8")
        if _user_id(request) is None:
            response.set_cookie(
                COOKIE,
                secrets.token_urlsafe(32),
                httponly=True,
                samesite="Strict",
                secure=self._secure_cookie,
                max_age=90 * 24 * 3600,  # long enough to come back to a survey later
                path="/",
            )
        return response

    async def _static(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if name not in _STATIC:
            raise web.HTTPNotFound()
        body = resources.files("adapters").joinpath(f"web_static/{name}").read_bytes()
        return web.Response(body=body, content_type=_STATIC[name], charset="utf-8")

    async def _poll(self, request: web.Request) -> web.StreamResponse:
        user_id = _user_id(request)
        if user_id is None:
            return _error(401, "Your session has expired. Please reload the page.")
        try:
            after = int(request.query.get("after", "0"))
        except ValueError:
            return _error(400, "'after' must be a whole number.")
        session = self._session(user_id)
        if session.sequence <= after and request.query.get("wait") != "0" and not self._stopping:
            session.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(session.changed.wait(), POLL_SECONDS)
        messages = [m for m in session.transcript if m["seq"] > after]
        return web.json_response({"messages": messages, "last": session.sequence})

    async def _receive(self, request: web.Request) -> web.StreamResponse:
        user_id = _user_id(request)
        if user_id is None:
            return _error(401, "Your session has expired. Please reload the page.")
        if not _same_origin(request):
            return _error(403, "This page cannot be used from another site.")
        try:
            body = await request.json()
        except web.HTTPRequestEntityTooLarge:
            return _error(413, f"That message is too large; the limit is {MAX_BODY_BYTES:,} bytes.")
        except (json.JSONDecodeError, UnicodeDecodeError):
            return _error(400, "The message could not be read. Please try again.")
        if not isinstance(body, dict):
            return _error(400, "The message could not be read. Please try again.")
        text, action, event_id = body.get("text", ""), body.get("action"), body.get("id")
        if not isinstance(text, str) or not (action is None or isinstance(action, str)):
            return _error(400, "The message could not be read. Please try again.")
        if not isinstance(event_id, str) or not _EVENT_ID.match(event_id):
            return _error(400, "The message has no valid id. Please reload the page.")
        if not self._session(user_id).allow():
            return _error(429, "You are sending messages very fast. Please wait a moment.")
        await self._handler(
            Inbound(
                platform=PLATFORM,
                user_id=user_id,
                conversation_id=user_id,
                is_direct=True,
                text=text,
                action=action,
                event_id=event_id,
                timestamp=time.time(),
                locale=_language(request),
            )
        )
        return web.json_response({"ok": True}, status=202)


@web.middleware
async def _headers(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPRequestEntityTooLarge:
        response = _error(413, f"That message is too large; the limit is {MAX_BODY_BYTES:,} bytes.")
    response.headers.update(_HEADERS)
    return response


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _user_id(request: web.Request) -> str | None:
    token = request.cookies.get(COOKIE)
    if not token or len(token) > 100:
        return None
    return hashlib.sha256(token.encode()).hexdigest()[:32]


def _same_origin(request: web.Request) -> bool:
    origin = request.headers.get("Origin")
    return origin is None or origin.split("://", 1)[-1] == request.host


def _language(request: web.Request) -> str | None:
    header = request.headers.get("Accept-Language", "")
    first = header.split(",", 1)[0].split(";", 1)[0].strip().lower()
    return first.split("-", 1)[0] or None
