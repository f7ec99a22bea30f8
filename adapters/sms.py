"""Text messages through Twilio Programmable Messaging: Twilio's webhooks <-> core events.

Twilio posts each incoming text, and later each sent message's status, as a signed
form to the addresses under `sms.public_url`. A request whose X-Twilio-Signature does
not match (checked with the `twilio` library over the public address, with the
current auth token or the one before it while it is being rotated) or that names
another account gets 403 and changes nothing. An incoming text's turn is stored
before Twilio gets its 200; a text Twilio posts again carries the same MessageSid and
changes nothing. A text not stored gets 503, which Twilio retries where the webhook
address asks it to (docs/sms.md).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from decimal import Decimal
from typing import Annotated
from urllib.parse import urlsplit

import phonenumbers
from aiohttp import web
from pydantic import Field
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from adapters.background import Background
from adapters.http_timeouts import body_deadline, runner
from adapters.sms_sending import SmsSender
from adapters.sms_text import MESSAGE_LIMIT, as_text, segments
from adapters.sms_webhooks import PLATFORM, inbound_of, report_of
from bot.config import PlatformSection, secret
from bot.events import Capabilities, DeliveryReport, InboundHandler, NotStored, Outbound
from bot.platforms import Configured, PlatformContext
from conversations.outgoing import Message

log = logging.getLogger(__name__)

STORED_WITHIN = 10.0  # seconds: Twilio gives a webhook 15 before it gives up
NO_REPLY = str(MessagingResponse())  # the replies go through the REST API, after the commit

ReportHandler = Callable[[DeliveryReport], Awaitable[None]]


class SmsSettings(PlatformSection):
    # Secrets are never in the file: these name the environment variables holding them.
    account_sid_env: str = "TWILIO_ACCOUNT_SID"
    auth_token_env: str = "TWILIO_AUTH_TOKEN"
    # While an auth token is being rotated, requests signed with the one before still pass.
    previous_auth_token_env: str = "TWILIO_PREVIOUS_AUTH_TOKEN"
    # The service's Twilio number (+358…) or Messaging Service (MG…) that texts people.
    sender: Annotated[str, Field(pattern=r"^(\+[1-9][0-9]{6,14}|MG[0-9a-fA-F]{32})$")]
    # Where Twilio reaches civicbot, e.g. https://feedback.example.fi/sms/: the incoming
    # texts' webhook is its `inbound`, status callbacks its `status`. Signatures are
    # checked over this address, so a proxy in front must pass the path on unchanged.
    public_url: Annotated[str, Field(pattern=r"^https?://[^/]+(/.*)?/$")]
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = 3001
    # Numbers a coordinator writes without a country code are read as this country's.
    region: Annotated[str, Field(pattern=r"^[A-Z]{2}$")] = "FI"
    api_url: Annotated[str, Field(pattern=r"^https?://")] = "https://api.twilio.com"
    # What one segment costs, for the estimate a dry run of an invitation wave gives.
    price_per_segment: Annotated[Decimal, Field(ge=0)] | None = None
    currency: Annotated[str, Field(min_length=1, max_length=8)] = "EUR"


SETTINGS = SmsSettings


def from_settings(settings: SmsSettings, context: PlatformContext) -> Configured:
    environ = context.environ
    account = secret(environ, "sms.account_sid_env", settings.account_sid_env)
    tokens = [secret(environ, "sms.auth_token_env", settings.auth_token_env)]
    if previous := environ.get(settings.previous_auth_token_env):
        tokens.append(previous)

    def build(handler: InboundHandler) -> SmsAdapter:
        return SmsAdapter(handler, account_sid=account, auth_tokens=tokens, settings=settings)

    return Configured(build)


class SmsAdapter:
    platform = PLATFORM
    capabilities = Capabilities(invites=True, max_message_length=MESSAGE_LIMIT, texting=True)

    def __init__(
        self,
        handler: InboundHandler,
        *,
        account_sid: str,
        auth_tokens: Sequence[str],
        settings: SmsSettings,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._handler = handler
        self._account = account_sid
        self._validators = [RequestValidator(token) for token in auth_tokens]
        self._settings = settings
        address = urlsplit(settings.public_url)
        self._origin = f"{address.scheme}://{address.netloc}"
        self._path = address.path
        self._clock = clock
        self._sender = SmsSender(
            account_sid=account_sid,
            auth_token=auth_tokens[0],
            sender=settings.sender,
            status_url=settings.public_url + "status",
            api_url=settings.api_url,
        )
        self._reports: ReportHandler | None = None
        self._background = Background()
        self._runner: web.AppRunner | None = None
        self.port = settings.port

    def use_delivery_reports(self, record: ReportHandler) -> None:
        """Where the statuses Twilio reports of sent messages go (the wiring's recorder)."""
        self._reports = record

    def app(self) -> web.Application:
        application = web.Application(middlewares=[body_deadline()], client_max_size=64 * 1024)
        application.router.add_post(self._path + "inbound", self._incoming)
        application.router.add_post(self._path + "status", self._status)
        return application

    async def start(self) -> None:
        self._runner = runner(self.app())
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._settings.host, self._settings.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        await self._background.settled()
        await self._sender.close()

    async def unready(self) -> str | None:
        return None if self._runner is not None else "not started"

    def describe(self) -> str:
        return (
            f"SMS: Twilio's webhooks served at port {self.port}{self._path}inbound and "
            f"{self._path}status, texting from {self._settings.sender}"
        )

    async def _incoming(self, request: web.Request) -> web.StreamResponse:
        form = await self._verified(request)
        if form is None:
            return web.Response(status=403, text="invalid signature")
        if not form.get("From") or not form.get("MessageSid"):
            return web.Response(status=400, text="not an incoming message")
        inbound = inbound_of(form, now=self._clock())
        try:
            await self._background.within(self._handler(inbound), STORED_WITHIN)
        except (NotStored, TimeoutError):
            log.warning("sms message %s not stored: left for Twilio to retry", inbound.event_id)
            return web.Response(status=503, text="not stored, send it again")
        return web.Response(text=NO_REPLY, content_type="text/xml")

    async def _status(self, request: web.Request) -> web.StreamResponse:
        form = await self._verified(request)
        if form is None:
            return web.Response(status=403, text="invalid signature")
        report = report_of(form)
        if report is None:
            return web.Response(status=400, text="not a status callback")
        if self._reports is not None:
            try:
                await self._reports(report)
            except Exception:
                log.exception("sms: a delivery report was not recorded")
                return web.Response(status=503, text="not recorded, send it again")
        return web.Response(status=204)

    async def _verified(self, request: web.Request) -> dict[str, str] | None:
        """The form, if Twilio signed it for this account; else None."""
        signature = request.headers.get("X-Twilio-Signature", "")
        try:
            form = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
        except ValueError:
            return None
        url = self._origin + request.path_qs
        if not signature or not any(v.validate(url, form, signature) for v in self._validators):
            log.info("sms: refused a request with no valid signature")
            return None
        if form.get("AccountSid") != self._account:
            log.info("sms: refused a request signed for another account")
            return None
        return form

    async def send(self, outbound: Outbound) -> None:
        await self._sender.send(outbound)

    async def open_direct(self, user_id: str) -> str:
        return user_id  # a number is its own conversation

    async def resolve_people(self, names: Sequence[str]) -> list[str]:
        """The numbers as E.164 (+358401234567); LookupError naming those that are not
        phone numbers."""
        numbers, unreadable = [], []
        for name in names:
            number = phone_number(name, self._settings.region)
            if number is None:
                unreadable.append(f"'{name}'")
            else:
                numbers.append(number)
        if unreadable:
            raise LookupError(
                f"{', '.join(unreadable)} {'is' if len(unreadable) == 1 else 'are'} not a phone"
                " number I can read (write it like +358401234567)"
            )
        return numbers

    async def channel_members(self, channel: str) -> list[str]:
        raise LookupError("text messages have no channels: name the phone numbers")

    def cost(self, message: Message, recipients: int) -> str:
        """What sending `message` to `recipients` numbers takes, in segments and money."""
        counted = segments(as_text(message))
        total = counted.count * recipients
        said = (
            f"Each is {counted.count} text-message segment{'s' if counted.count > 1 else ''} "
            f"({counted.encoding}): {total:,} segments for {recipients:,} "
            f"{'person' if recipients == 1 else 'people'}"
        )
        price = self._settings.price_per_segment
        if price is not None:
            said += f", about {price * total:,.2f} {self._settings.currency}"
        return said + "."


def phone_number(written: str, region: str) -> str | None:
    """A number as a coordinator wrote it, in E.164, or None when it is not one."""
    try:
        parsed = phonenumbers.parse(written, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
