"""Sending text messages through Twilio's Message resource, with Twilio's rules for
failures: a 429 was never processed and is safe to send again (after backing off, for
every message, since the limit is the account's concurrency); a 5xx or a lost
connection may have created the message, so the next try first looks for it among the
latest messages to that number; the errors a second try cannot mend (a number that
opted out, one that is not a phone, a body too long) are lasting refusals.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import NoReturn

import aiohttp
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

from adapters.sms_text import as_text, split
from bot.events import Outbound, Refused

log = logging.getLogger(__name__)

IN_FLIGHT = 20  # requests at once: Twilio answers 429 past an account's concurrency
CALM_AFTER_429 = (1.0, 30.0)  # seconds every send waits after a 429: first, at most
# How far back a message that may have gone is looked for: tries follow within minutes.
LOOKBACK = timedelta(minutes=30)
LOOKED_AT = 20  # the latest messages to the number that are compared
# Twilio's error codes that sending the same message again cannot mend.
LASTING = {
    21211: "invalid_to",  # not a phone number
    21408: "region_not_enabled",
    21610: "unsubscribed",  # the number texted STOP to this sender
    21612: "cannot_route",
    21614: "not_mobile",
    21617: "body_too_long",
    21635: "not_mobile",
    30004: "blocked",
}


def quiet_twilio_log() -> logging.Logger:
    """The Twilio library logs each request's parameters (numbers, message bodies) at
    INFO: its logger here says only warnings, and those never carry a request."""
    quiet = logging.getLogger("adapters.sms.twilio_library")
    quiet.setLevel(logging.WARNING)
    return quiet


class MaybeSent(Exception):
    """Twilio's answer left open whether the message went: the next try looks for it.
    It says the status and code only, never Twilio's message, which may quote the number."""


class SmsSender:
    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        sender: str,
        status_url: str,
        api_url: str,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._http = AsyncTwilioHttpClient(logger=quiet_twilio_log(), timeout=30)
        self._client = Client(account_sid, auth_token, http_client=self._http)
        self._client.api.base_url = api_url.rstrip("/")  # a stand-in's, in the tests
        # a Messaging Service (MG…) picks the sending number itself
        self._from = {"messaging_service_sid" if sender.startswith("MG") else "from_": sender}
        self._status_url = status_url
        self._clock = clock
        self._sleep = sleep
        self._in_flight = asyncio.Semaphore(IN_FLIGHT)
        self._calm_until = 0.0
        self._calm = CALM_AFTER_429[0]

    async def close(self) -> None:
        await self._http.close()

    async def send(self, outbound: Outbound) -> None:
        """Send the message (split past 1,600 characters); Refused when Twilio took none
        of it, any other error when some of it may be there (the next try checks)."""
        parts = split(as_text(outbound.message))
        there = await self._sent_lately(outbound.conversation_id) if outbound.maybe_sent else []
        none_sent = not outbound.maybe_sent
        for part in parts:
            if part in there:
                there.remove(part)
                continue
            await self._create(outbound.conversation_id, part, first=none_sent)
            none_sent = False

    async def _create(self, to: str, body: str, *, first: bool) -> None:
        await self._calmed()
        try:
            async with self._in_flight:
                await self._client.messages.create_async(
                    to=to, body=body, status_callback=self._status_url, **self._from
                )
        except TwilioRestException as error:
            self._refused(error, first=first)
        except (aiohttp.ClientError, TimeoutError):
            log.warning("sms: the connection to Twilio failed; the message may have gone")
            raise
        self._calm = CALM_AFTER_429[0]

    def _refused(self, error: TwilioRestException, *, first: bool) -> NoReturn:
        """Raise what the outbox needs to know. Only the code and status are logged: a
        Twilio error message may quote the number."""
        status, code = error.status, error.code
        if status == 429:
            self._calm_until = self._clock() + self._calm
            self._calm = min(self._calm * 2, CALM_AFTER_429[1])
            log.warning("sms: Twilio answered 429 (%s): every send waits a while", code)
            if first:
                raise Refused("rate_limited") from None
            # an earlier part went: the next try looks for it rather than send it again
            raise MaybeSent(f"Twilio answered 429 ({code}) after a first part went") from None
        if status >= 500 or not first:
            raise MaybeSent(f"Twilio answered {status} ({code})") from None
        reason = LASTING.get(code or 0)
        if reason is not None:
            raise Refused(reason, lasting=True) from None
        raise Refused(f"twilio_{code or status}", lasting=status in (400, 404, 413)) from None

    async def _calmed(self) -> None:
        while (wait := self._calm_until - self._clock()) > 0:
            await self._sleep(wait)

    async def _sent_lately(self, to: str) -> list[str]:
        """The bodies of the latest messages to `to` within LOOKBACK. A lookup that fails
        raises: sending without knowing could send twice."""
        since = datetime.now(UTC) - LOOKBACK
        async with self._in_flight:
            latest = await self._client.messages.list_async(to=to, limit=LOOKED_AT)
        return [
            m.body or ""
            for m in latest
            if m.direction != "inbound" and m.date_created and m.date_created >= since
        ]
