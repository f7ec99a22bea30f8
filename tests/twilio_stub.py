"""A loopback stand-in for Twilio's Programmable Messaging, answering as Twilio
documents: the Message resource (form-encoded create, JSON answers, Twilio's error
codes, a list filtered by To, newest first), and the signed form posts Twilio makes to
a service: incoming texts and status callbacks (X-Twilio-Signature over the public
address the service gave, HMAC-SHA1 of the address and the sorted parameters)."""

from __future__ import annotations

import asyncio
import itertools
import re
import secrets
import time
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any

import aiohttp
from aiohttp import web
from twilio.request_validator import RequestValidator

ACCOUNT_SID = "AC" + "0" * 31 + "1"
AUTH_TOKEN = "test-auth-token"
SERVICE_NUMBER = "+358451234000"
PUBLIC_URL = "https://feedback.example.fi/sms/"  # what Twilio calls; the proxy passes it on
E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
BODY_LIMIT = 1600


@dataclass
class Sent:
    sid: str
    to: str
    body: str
    status_callback: str | None
    created: float


@dataclass
class TwilioApi:
    """Records each message created; `fail` queues answers to the next creates, as
    (HTTP status, Twilio code, whether the message was created all the same)."""

    sent: list[Sent] = field(default_factory=list)
    unsubscribed: set[str] = field(default_factory=set)  # numbers that texted STOP
    fail: list[tuple[int, int, bool]] = field(default_factory=list)
    lookups: int = 0
    url: str = ""
    service_url: str = ""  # where the service under test listens, e.g. http://127.0.0.1:N
    _grew: asyncio.Event = field(default_factory=asyncio.Event)
    _sids: itertools.count = field(default_factory=lambda: itertools.count(1))
    _runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        messages = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
        app.router.add_post(messages, self._create)
        app.router.add_get(messages, self._list)
        app.router.add_route("*", "/{tail:.*}", self._unknown)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def until_sent(self, count: int) -> None:
        """Wait until `count` messages have been created."""
        while len(self.sent) < count:
            self._grew.clear()
            await self._grew.wait()

    def bodies_to(self, number: str) -> list[str]:
        return [s.body for s in self.sent if s.to == number]

    async def _create(self, request: web.Request) -> web.Response:
        if not _authorised(request):
            return _error(401, 20003, "Authenticate")
        form = await request.post()
        to, body = str(form.get("To", "")), str(form.get("Body", ""))
        if not (form.get("From") or form.get("MessagingServiceSid")):
            return _error(400, 21603, "A 'From' or 'MessagingServiceSid' parameter is required")
        if not E164.match(to):
            return _error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        if len(body) > BODY_LIMIT:
            return _error(400, 21617, "The concatenated message body exceeds the 1600 limit")
        if to in self.unsubscribed:
            return _error(400, 21610, "Attempt to send to unsubscribed recipient")
        failure = self.fail.pop(0) if self.fail else None
        made = None
        if failure is None or failure[2]:
            callback = form.get("StatusCallback")
            made = Sent(self._sid(), to, body, str(callback) if callback else None, time.time())
            self.sent.append(made)
            self._grew.set()
        if failure is not None:
            return _error(failure[0], failure[1], "stand-in failure")
        assert made is not None
        return web.json_response(_resource(made, form), status=201)

    async def _list(self, request: web.Request) -> web.Response:
        if not _authorised(request):
            return _error(401, 20003, "Authenticate")
        self.lookups += 1
        to = request.query.get("To")
        size = int(request.query.get("PageSize", "50"))
        found = [s for s in reversed(self.sent) if to is None or s.to == to][:size]
        return web.json_response(
            {
                "messages": [_resource(s, {}) for s in found],
                "end": max(len(found) - 1, 0),
                "first_page_uri": request.path_qs,
                "next_page_uri": None,
                "page": 0,
                "page_size": size,
                "previous_page_uri": None,
                "start": 0,
                "uri": request.path_qs,
            }
        )

    async def _unknown(self, request: web.Request) -> web.Response:
        return _error(404, 20404, "The requested resource was not found")

    def _sid(self) -> str:
        return f"SM{next(self._sids):032x}"

    async def report(self, session: aiohttp.ClientSession, sent: Sent, status: str, **extra: str):
        """Post the status callback Twilio makes when `sent` reaches `status`."""
        form = {
            "AccountSid": ACCOUNT_SID,
            "ApiVersion": "2010-04-01",
            "From": SERVICE_NUMBER,
            "MessageSid": sent.sid,
            "MessageStatus": status,
            "SmsSid": sent.sid,
            "SmsStatus": status,
            "To": sent.to,
            **extra,
        }
        assert sent.status_callback is not None
        return await signed_post(session, self.service_url, sent.status_callback, form)


async def text_in(
    session: aiohttp.ClientSession,
    service_url: str,
    number: str,
    body: str,
    *,
    sid: str | None = None,
    media: int = 0,
    token: str = AUTH_TOKEN,
    account: str = ACCOUNT_SID,
    signature: str | None = None,
) -> aiohttp.ClientResponse:
    """An incoming text as Twilio posts it to the service's `inbound` webhook."""
    sid = sid or "SM" + secrets.token_hex(16)
    form = {
        "ToCountry": "FI",
        "ToState": "",
        "SmsMessageSid": sid,
        "NumMedia": str(media),
        "ToCity": "",
        "FromZip": "",
        "SmsSid": sid,
        "FromState": "",
        "SmsStatus": "received",
        "FromCity": "",
        "Body": body,
        "FromCountry": "FI",
        "To": SERVICE_NUMBER,
        "ToZip": "",
        "NumSegments": "1",
        "MessageSid": sid,
        "AccountSid": account,
        "From": number,
        "ApiVersion": "2010-04-01",
    }
    if media:
        form["MediaContentType0"] = "image/jpeg"
        form["MediaUrl0"] = f"https://api.twilio.com/2010-04-01/Accounts/{account}/Media/ME1"
    return await signed_post(
        session, service_url, PUBLIC_URL + "inbound", form, token=token, signature=signature
    )


async def signed_post(
    session: aiohttp.ClientSession,
    service_url: str,
    public_address: str,
    form: dict[str, str],
    *,
    token: str = AUTH_TOKEN,
    signature: str | None = None,
) -> aiohttp.ClientResponse:
    """Post `form` signed over the public address, to where the service really listens."""
    if signature is None:
        signature = RequestValidator(token).compute_signature(public_address, form)
    local = service_url + public_address.removeprefix("https://feedback.example.fi")
    async with session.post(local, data=form, headers={"X-Twilio-Signature": signature}) as r:
        await r.read()
        return r


def _authorised(request: web.Request) -> bool:
    try:
        auth = aiohttp.BasicAuth.decode(request.headers.get("Authorization", ""))
    except ValueError:
        return False
    return (auth.login, auth.password) == (ACCOUNT_SID, AUTH_TOKEN)


def _error(status: int, code: int, message: str) -> web.Response:
    body = {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    return web.json_response(body, status=status)


def _resource(sent: Sent, form: Any) -> dict[str, Any]:
    return {
        "account_sid": ACCOUNT_SID,
        "api_version": "2010-04-01",
        "body": sent.body,
        "date_created": formatdate(sent.created, usegmt=True),
        "date_sent": None,
        "date_updated": formatdate(sent.created, usegmt=True),
        "direction": "outbound-api",
        "error_code": None,
        "error_message": None,
        "from": form.get("From") or SERVICE_NUMBER,
        "messaging_service_sid": form.get("MessagingServiceSid"),
        "num_media": "0",
        "num_segments": "1",
        "price": None,
        "price_unit": "USD",
        "sid": sent.sid,
        "status": "queued",
        "subresource_uris": {
            "media": f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{sent.sid}/Media.json"
        },
        "to": sent.to,
        "uri": f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{sent.sid}.json",
    }
