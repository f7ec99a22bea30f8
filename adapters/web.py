"""The web chat: a plain page for people without a Slack or Matrix account, and a
staff page where coordinators run survey commands and digests land.

Translation only: a POST becomes an `Inbound`, an `Outbound` becomes an entry in
a conversation's transcript, which the page fetches by long-polling. A citizen's
session is a random token in an HttpOnly, SameSite=Strict cookie; the platform
user id is a hash of it, so the database never holds the token itself. The staff
page opens with a personal link (`/staff?key=…`, from `civicbot staff add`) or
the operator's key, which sets a staff cookie; the core's staff door
(bot/staff_door.py) checks keys and sessions. Staff share the one conversation
`staff`, each under their own name (the operator's key: `staff`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import math
import re
import secrets
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import web

from adapters.http_timeouts import REQUEST_WITHIN, body_deadline, runner
from adapters.recently import remember, used
from adapters.web_limits import (
    ADDRESS_BURST,
    ADDRESS_PER_SECOND,
    AddressLimits,
    Network,
    TokenBucket,
    client_address,
    is_trusted,
)
from adapters.web_numbers import MAX_FILE_BYTES, NotANumberFile, invitation_of
from adapters.web_pages import (
    MAX_BODY_BYTES,
    NEUTRAL,
    Branding,
    refuse,
    rendered,
    same_origin,
    security_headers,
    static_file,
    too_fast,
    unavailable,
)
from adapters.web_texts import page_language, preferred_language
from adapters.web_transcripts import MemoryTranscripts, Transcripts
from bot.events import (
    Attachment,
    Capabilities,
    Inbound,
    InboundHandler,
    NotStored,
    Outbound,
    StaffDoor,
)
from conversations.outgoing import answer_of

log = logging.getLogger(__name__)

PLATFORM = "web"
COOKIE = "civicbot_session"
STAFF_COOKIE = "civicbot_staff"
SIGN_IN_LIMIT = (10, 1 / 30)  # sign-in attempts per network: 10 at once, then one per 30 s
STAFF = "staff"  # the staff page's user id and conversation id
MAX_FILES = 20  # exports kept for download from the staff page
MAX_SESSIONS = 10_000  # least recently active sessions beyond this are forgotten
SESSION_LIFETIME = timedelta(days=90)  # a session cookie's, unless web.session_lifetime says
POLL_SECONDS = 25.0
NOT_STORED_RETRY_SECONDS = 2.0  # a message that could not be stored is sent again this soon
# The replies are usually ready when the page is told its message arrived (web replies only
# join a queue), but a reply to staff on another platform must not hold up the page.
REPLIES_WAIT = 1.0
BURST, REFILL_PER_SECOND = 8, 1.0  # rate limit per session: a burst, then one a second
_EVENT_ID = re.compile(r"^[A-Za-z0-9-]{8,64}$")
# (user id, conversation, is a command) of a request, or None if it has no session
Identify = Callable[[web.Request], Awaitable["tuple[str, str, bool] | None"]]


@dataclass
class _Session:
    limit: TokenBucket = field(default_factory=lambda: TokenBucket(BURST, REFILL_PER_SECOND))


class WebAdapter:
    platform = PLATFORM
    capabilities = Capabilities(buttons=True, file_upload=True, max_message_length=10_000)

    def __init__(
        self,
        handler: InboundHandler,
        *,
        host: str = "127.0.0.1",
        port: int = 8080,
        public_url: str | None = None,
        staff_key: str | None = None,
        show_staff_key: bool = False,
        trusted_proxies: Iterable[Network] = (),
        address_limit: tuple[float, float] = (ADDRESS_BURST, ADDRESS_PER_SECOND),
        request_within: float = REQUEST_WITHIN,
        branding: Branding = NEUTRAL,
        logo: Path | None = None,
        session_lifetime: timedelta = SESSION_LIFETIME,
    ) -> None:
        self._session_seconds = int(session_lifetime.total_seconds())
        self._handler = handler
        self._branding = branding
        self._logo = logo.read_bytes() if logo is not None else None
        self._request_within = request_within  # for headers, then for the body
        self._host = host
        self._port = port
        self._public_url = public_url
        # Under a path prefix, cookies stay within it, and the pages answer there too
        # (for a proxy that passes the prefix on) as well as at the root (one that strips it).
        self._prefix = urlsplit(public_url).path.rstrip("/") if public_url else ""
        self._public_host = urlsplit(public_url).netloc if public_url else None
        self._secure_cookie = bool(public_url and public_url.startswith("https://"))
        self._staff_key = staff_key  # None: no staff page
        self._show_staff_key = show_staff_key  # generated at start: only this line tells it
        self._door: StaffDoor | None = None  # given by the wiring: keys and sessions
        self._sign_ins = AddressLimits(*SIGN_IN_LIMIT)
        self._wrong_keys = 0
        self._files: OrderedDict[str, Attachment] = OrderedDict()
        self._sessions: OrderedDict[str, _Session] = OrderedDict()
        self._addresses = AddressLimits(*address_limit)  # (burst, then per second)
        self._trusted_proxies = tuple(trusted_proxies)
        self._told_about_proxy = False
        self._runner: web.AppRunner | None = None
        self._stopping = False
        self.port = port  # the bound port once started (port 0 picks a free one)
        self._transcripts: Transcripts = MemoryTranscripts()  # or the workers' shared ones

    def app(self) -> web.Application:
        app = web.Application(
            client_max_size=MAX_FILE_BYTES,  # the staff page's files; MAX_BODY_BYTES else
            middlewares=[security_headers, body_deadline(self._request_within)],
        )
        for base in {"", self._prefix}:
            app.router.add_get(f"{base}/", self._page)
            app.router.add_get(f"{base}/static/{{name}}", self._static)
            app.router.add_get(f"{base}/api/messages", partial(self._poll, who=self._citizen))
            app.router.add_post(f"{base}/api/messages", partial(self._receive, who=self._citizen))
            app.router.add_post(f"{base}/api/done", self._done)
            app.router.add_get(f"{base}/staff", self._staff_page)
            app.router.add_get(f"{base}/api/staff/messages", partial(self._poll, who=self._staff))
            app.router.add_post(
                f"{base}/api/staff/messages", partial(self._receive, who=self._staff)
            )
            app.router.add_post(f"{base}/api/staff/numbers", self._numbers)
            app.router.add_get(f"{base}/staff/files/{{file}}", self._file)
            app.router.add_get(f"{base}/branding/logo", self._logo_file)
        return app

    async def start(self) -> None:
        self._runner = runner(self.app(), self._request_within)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    def describe(self) -> str:
        url = self._public_url or f"http://{self._host}:{self.port}/"
        lines = [f"open {url} to answer a survey in the web chat"]
        if self._show_staff_key:
            lines.append(
                f"open {url}staff?key={self._staff_key} for the staff page (commands, digests)"
            )
        return "\n".join(lines)

    async def unready(self) -> str | None:
        return "stopping" if self._stopping else None if self._runner else "not started"

    async def stop(self) -> None:
        """Stop accepting; requests in flight (turns being stored) finish first, and
        waiting polls are answered at once."""
        self._stopping = True
        self._transcripts.wake_all()
        if self._runner is not None:
            await self._runner.cleanup()

    async def send(self, outbound: Outbound) -> None:
        message = outbound.message
        entry = {
            "id": outbound.outbox_id,
            "text": message.text,
            "choices": [{"label": c.label, "value": c.value} for c in message.choices],
            "numbered": message.numbered,
            "multiple": message.multiple,
            "send_label": message.send_label,
            "question": message.question,
            "details": message.details,
            "table": message.table,
            "language": message.language,
            "accessible": message.accessible,
        }
        if outbound.attachment is not None:
            name = secrets.token_urlsafe(16)
            remember(self._files, name, outbound.attachment, most=MAX_FILES)
            entry["file"] = {
                "name": outbound.attachment.filename,
                "url": f"staff/files/{name}",  # relative: the page may be under a prefix
                "type": outbound.attachment.media_type,
                "description": outbound.attachment.description,
            }
        await self._transcripts.add(outbound.conversation_id, outbound.outbox_id, entry)

    def _session(self, user_id: str) -> _Session:
        return used(self._sessions, user_id, _Session, most=MAX_SESSIONS)

    async def _page(self, request: web.Request) -> web.StreamResponse:
        language = page_language(request.headers.get("Accept-Language", ""))
        page = rendered("chat.html", language, self._branding)
        response = web.Response(text=page, content_type="text/html", charset="utf-8")
        response.headers["Content-Language"] = language
        response.headers["Vary"] = "Accept-Language"
        if _user_id(request) is None:
            response.set_cookie(
                COOKIE,
                secrets.token_urlsafe(32),
                httponly=True,
                samesite="Strict",
                secure=self._secure_cookie,
                max_age=self._session_seconds,
                path=f"{self._prefix}/",
            )
        return response

    async def _logo_file(self, request: web.Request) -> web.StreamResponse:
        if self._logo is None or self._branding.logo is None:
            raise web.HTTPNotFound()
        headers = {"Cache-Control": "public, max-age=3600"}
        return web.Response(body=self._logo, content_type=self._branding.logo, headers=headers)

    async def _static(self, request: web.Request) -> web.StreamResponse:
        found = static_file(request.match_info["name"])
        if found is None:
            raise web.HTTPNotFound()
        body, media_type = found
        return web.Response(body=body, content_type=media_type, charset="utf-8")

    async def _citizen(self, request: web.Request) -> tuple[str, str, bool] | None:
        """(user id, conversation, is a command) for a citizen's request, or None without
        a session: each citizen's conversation is their own."""
        user_id = _user_id(request)
        return None if user_id is None else (user_id, user_id, False)

    def use_transcripts(self, transcripts: Transcripts) -> None:
        """Transcripts that other workers on the same database read and write too."""
        self._transcripts = transcripts

    def use_staff_door(self, door: StaffDoor) -> None:
        self._door = door

    async def _staff(self, request: web.Request) -> tuple[str, str, bool] | None:
        if self._door is None:
            return None
        user_id = await self._door.session_user(request.cookies.get(STAFF_COOKIE, ""))
        return None if user_id is None else (user_id, STAFF, True)

    async def _signed_in(self, key: str) -> str | None:
        """A session token for a personal key or the operator's, or None."""
        if self._door is None or not key:
            return None
        if self._staff_key and secrets.compare_digest(key.encode(), self._staff_key.encode()):
            return await self._door.open_session(STAFF)
        return await self._door.sign_in(key)

    async def _staff_page(self, request: web.Request) -> web.StreamResponse:
        if self._door is None:
            raise web.HTTPNotFound()
        key = request.query.get("key", "")
        # each try counts against its network: a key cannot be guessed at speed
        if key and (wait := self._sign_ins.take(self._client(request))):
            return web.Response(
                status=429,
                text="Too many sign-in attempts from your network. Try again later.",
                headers={"Retry-After": str(math.ceil(wait))},
            )
        token = await self._signed_in(key)
        if key and token is None:
            self._wrong_keys += 1
            log.warning("web: a wrong staff sign-in key was tried (%d so far)", self._wrong_keys)
        if token is not None:
            response = web.HTTPSeeOther("staff")  # the key leaves the address bar
            response.set_cookie(
                STAFF_COOKIE,
                token,
                httponly=True,
                samesite="Strict",
                secure=self._secure_cookie,
                path=f"{self._prefix}/",
            )
            raise response
        if await self._staff(request) is None:
            return web.Response(
                status=403,
                text="This is the staff page. Open it with the link civicbot printed at start.",
            )
        page = rendered("staff.html", "en")  # staff pages are in English for now
        return web.Response(text=page, content_type="text/html", charset="utf-8")

    async def _file(self, request: web.Request) -> web.StreamResponse:
        found = self._files.get(request.match_info["file"])
        if await self._staff(request) is None or found is None:
            raise web.HTTPNotFound()
        response = web.StreamResponse(
            headers={"Content-Disposition": f'attachment; filename="{found.filename}"'}
        )
        response.content_type = found.media_type
        response.content_length = found.size
        await response.prepare(request)
        for chunk in found.chunks():  # a large export goes from disk a chunk at a time
            await response.write(chunk)
        await response.write_eof()
        return response

    async def _done(self, request: web.Request) -> web.StreamResponse:
        """ "I'm done" on a shared computer: the session's cookie goes, and with it the way
        back to this conversation (and to its `my data`); the next visitor starts afresh."""
        identity = await self._citizen(request)
        if identity is None:
            return refuse(request, 401, "expired")
        if not same_origin(request, self._public_host):
            return refuse(request, 403, "other_site")
        conversation = identity[1]
        self._sessions.pop(conversation, None)
        self._transcripts.forget(conversation)
        response = web.json_response({"ok": True})
        response.del_cookie(COOKIE, path=f"{self._prefix}/")
        return response

    async def _poll(self, request: web.Request, *, who: Identify) -> web.StreamResponse:
        identity = await who(request)
        if identity is None:
            return refuse(request, 401, "expired")
        conversation = identity[1]
        try:
            after = int(request.query.get("after", "0"))
        except ValueError:
            return refuse(request, 400, "bad_after")
        if conversation not in self._sessions and (limited := self._address_limited(request)):
            return limited  # made-up cookies would otherwise push real sessions out
        self._session(conversation)
        transcripts = self._transcripts
        if request.query.get("epoch", transcripts.epoch) != transcripts.epoch:
            after = 0  # the page knew the server before it restarted: all of the new transcript
        messages, last = await transcripts.read(conversation, after)
        if not messages and request.query.get("wait") != "0" and not self._stopping:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(POLL_SECONDS):
                    await transcripts.wait(conversation, after)
            messages, last = await transcripts.read(conversation, after)
        return web.json_response({"messages": messages, "last": last, "epoch": transcripts.epoch})

    async def _receive(self, request: web.Request, *, who: Identify) -> web.StreamResponse:
        if limited := self._address_limited(request):
            return limited
        identity = await who(request)
        if identity is None:
            return refuse(request, 401, "expired")
        user_id, conversation, command = identity
        if not same_origin(request, self._public_host):
            return refuse(request, 403, "other_site")
        try:
            if len(await request.read()) > MAX_BODY_BYTES:
                raise web.HTTPRequestEntityTooLarge(MAX_BODY_BYTES, request.content_length or 0)
            body = await request.json()
        except web.HTTPRequestEntityTooLarge:
            return refuse(request, 413, "too_large", limit=MAX_BODY_BYTES)
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):  # deep nesting too
            return refuse(request, 400, "unreadable")
        if not isinstance(body, dict):
            return refuse(request, 400, "unreadable")
        text, action, event_id = body.get("text", ""), body.get("action"), body.get("id")
        picked = body.get("picked")  # multiple choice: {"question": id, "values": [...]}
        if isinstance(picked, dict):
            question, values = picked.get("question"), picked.get("values")
            if not (isinstance(question, str) and isinstance(values, list)):
                return refuse(request, 400, "unreadable")
            action = answer_of(question, [str(value) for value in values])
        if not isinstance(text, str) or not (action is None or isinstance(action, str)):
            return refuse(request, 400, "unreadable")
        if not (_encodable(text) and (action is None or _encodable(action))):
            return refuse(request, 400, "unreadable")  # a lone surrogate: no text can hold it
        if not isinstance(event_id, str) or not _EVENT_ID.match(event_id):
            return refuse(request, 400, "no_id")
        if wait := self._session(conversation).limit.take():
            return too_fast(request, "too_fast", wait)
        inbound = Inbound(
            platform=PLATFORM,
            user_id=user_id,
            conversation_id=conversation,
            is_direct=not command,
            text=text,
            action=action,
            event_id=event_id,
            timestamp=time.time(),
            locale=preferred_language(request.headers.get("Accept-Language", "")),
            command=command,
        )
        try:
            delivery = await self._handler(inbound)
            await asyncio.wait([delivery], timeout=REPLIES_WAIT)
        except NotStored:  # the page sends it again, with the same id, after Retry-After
            return unavailable(request, "not_stored", NOT_STORED_RETRY_SECONDS)
        return web.json_response({"ok": True}, status=202)

    async def _numbers(self, request: web.Request) -> web.StreamResponse:
        """A CSV file of phone numbers from the staff page: the command it stands for."""
        identity = await self._staff(request)
        if identity is None:
            return refuse(request, 401, "expired")
        if not same_origin(request, self._public_host):
            return refuse(request, 403, "other_site")
        event_id, survey = request.query.get("id", ""), request.query.get("survey", "")
        if not _EVENT_ID.match(event_id):
            return refuse(request, 400, "no_id")
        dry_run = request.query.get("dry_run") == "1"
        try:  # the file is the body; what it is for, the query
            text = invitation_of(survey.strip(), await request.read(), dry_run=dry_run)
        except NotANumberFile as problem:
            return web.json_response({"error": str(problem)}, status=400)
        user_id, conversation, _ = identity
        inbound = Inbound(
            platform=PLATFORM,
            user_id=user_id,
            conversation_id=conversation,
            is_direct=False,
            text=text,
            event_id=event_id,
            timestamp=time.time(),
            command=True,
        )
        await self._handler(inbound)
        return web.json_response({"ok": True}, status=202)

    def _client(self, request: web.Request) -> str:
        """The client's address a request counts against (behind trusted proxies too)."""
        forwarded_for = request.headers.get("X-Forwarded-For", "")
        return client_address(request.remote, forwarded_for, self._trusted_proxies)

    def _address_limited(self, request: web.Request) -> web.Response | None:
        """A refusal if the request's client address has used up its share, else None."""
        forwarded_for = request.headers.get("X-Forwarded-For", "")
        address = self._client(request)
        untrusted = not is_trusted(request.remote, self._trusted_proxies)
        if forwarded_for and untrusted and not self._told_about_proxy:
            self._told_about_proxy = True
            log.warning(
                "web: requests come through a proxy at %s that is not in web.trusted_proxies;"
                " every client behind it shares one rate limit",
                request.remote,
            )
        if wait := self._addresses.take(address):
            return too_fast(request, "network_busy", wait)
        return None


def _encodable(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def _user_id(request: web.Request) -> str | None:
    token = request.cookies.get(COOKIE)
    if not token or len(token) > 100:
        return None
    return hashlib.sha256(token.encode()).hexdigest()[:32]
