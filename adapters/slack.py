"""Slack, through slack-bolt's AsyncApp: Slack payloads <-> core events, nothing else.

Socket Mode when an app-level token is given (no public address needed; slack_sdk
reconnects after `disconnect` envelopes and dropped sockets), otherwise HTTP mode:
the Events API, interactivity and the /survey command arrive as signed requests
at one aiohttp endpoint, and bolt checks the signature and timestamp. A
message's turn is stored before Slack gets its acknowledgement; its replies follow.
A turn not stored within ACK_WITHIN seconds (Slack wants an ack within three) gets
no ack, so Slack sends it again; retries carry the same event id and change nothing.
Every event gets a 200, also those civicbot ignores, or Slack would retry them.

Everything civicbot writes goes out as plain_text blocks, which Slack never
parses for mentions or links, with an escaped `text` for notifications: no
participant's words can ping a channel or disguise a link.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Any

from aiohttp import web
from pydantic import Field
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.background import Background
from adapters.http_timeouts import body_deadline, runner
from adapters.recently import remember
from adapters.slack_blocks import (
    SECTION_LIMIT,
    SEND_CHOICES,
    answered,
    escape,
    ticked_options,
)
from adapters.slack_directory import SlackDirectory
from adapters.slack_events import (
    PLATFORM,
    click_inbound,
    command_inbound,
    edit_inbound,
    is_answer,
    is_edit,
    mention_inbound,
    message_inbound,
)
from adapters.slack_pacing import REMEMBERED, Clock, SharedRateLimit
from adapters.slack_posting import SlackPoster
from bot.config import ConfigError, PlatformSection, secret
from bot.events import Capabilities, Inbound, InboundHandler, NotStored, Outbound
from bot.platforms import Configured, PlatformContext
from conversations.outgoing import answer_of

log = logging.getLogger(__name__)

ACK_WITHIN = 2.5  # seconds: Slack wants an answer within 3
LOCALE_WAIT = 0.5  # seconds a person's language is looked up for, at most


class SlackSettings(PlatformSection):
    # Secrets are never in the file: these name the environment variables holding them.
    bot_token_env: str = "SLACK_BOT_TOKEN"
    signing_secret_env: str = "SLACK_SIGNING_SECRET"
    # When this variable holds an app-level token (xapp-…), Socket Mode is used.
    app_token_env: str = "SLACK_APP_TOKEN"
    host: str = "127.0.0.1"  # behind a TLS-terminating proxy that Slack can reach
    port: Annotated[int, Field(ge=0, le=65535)] = 3000
    path: str = "/slack/events"
    # Slack's Web API; GovSlack's is https://slack-gov.com/api/
    api_url: Annotated[str, Field(pattern=r"^https?://.*/$")] = "https://slack.com/api/"


SETTINGS = SlackSettings


def from_settings(settings: SlackSettings, context: PlatformContext) -> Configured:
    """Socket Mode when the app-level token's variable is set, else HTTP events, which
    need the signing secret."""
    environ = context.environ
    token = secret(environ, "slack.bot_token_env", settings.bot_token_env)
    app_token = environ.get(settings.app_token_env) or None
    if app_token is not None and not app_token.startswith("xapp-"):
        raise ConfigError(
            f"slack.app_token_env: {settings.app_token_env} holds no app-level token"
            " (they begin with xapp-)"
        )
    signing = (
        environ.get(settings.signing_secret_env, "")
        if app_token
        else secret(environ, "slack.signing_secret_env", settings.signing_secret_env)
    )

    def build(handler: InboundHandler) -> SlackAdapter:
        return SlackAdapter(
            handler,
            bot_token=token,
            signing_secret=signing,
            app_token=app_token,
            api_url=settings.api_url,
            host=settings.host,
            port=settings.port,
            path=settings.path,
        )

    return Configured(build)


class SlackAdapter:
    platform = PLATFORM
    capabilities = Capabilities(
        buttons=True, invites=True, file_upload=True, max_message_length=SECTION_LIMIT
    )

    def __init__(
        self,
        handler: InboundHandler,
        *,
        bot_token: str,
        signing_secret: str,
        app_token: str | None = None,
        api_url: str = "https://slack.com/api/",
        host: str = "127.0.0.1",
        port: int = 3000,
        path: str = "/slack/events",
        clock: Clock = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._handler = handler
        self._host = host
        self._port = port
        self._path = path
        rate_limit = SharedRateLimit()
        self.client = AsyncWebClient(token=bot_token, base_url=api_url, retry_handlers=[rate_limit])
        self._directory = SlackDirectory(self.client)
        self._app = AsyncApp(
            client=self.client,
            signing_secret=signing_secret,
            process_before_response=True,  # our listeners decide when Slack gets its answer
        )
        self.once_per_bot = app_token is not None  # Socket Mode: one connection per app
        self._socket_mode = (
            AsyncSocketModeHandler(self._app, app_token, web_client=self.client)
            if app_token
            else None
        )
        self._locales: OrderedDict[str, str | None] = OrderedDict()
        # Each direct conversation's latest message from its person: is an edit of it?
        self._latest: OrderedDict[str, str] = OrderedDict()
        self._poster = SlackPoster(self.client, clock=clock, sleep=sleep, rate_limit=rate_limit)
        self._background = Background()
        self._runner: web.AppRunner | None = None
        self.port = port
        self._register()

    def _register(self) -> None:
        app = self._app
        app.event("message")(self._on_message)
        app.action(re.compile(r"^choice-\d+$"))(self._on_click)
        app.action(re.compile(r"^pick-\d+$"))(self._on_tick)
        app.action(SEND_CHOICES)(self._on_send_choices)
        app.command("/survey")(self._on_command)
        app.event("app_mention")(self._on_mention)
        # Everything else is acknowledged and ignored, so Slack neither retries it nor
        # shows the person an error: other events, and interactions civicbot never offers
        # (shortcuts, modals, menus, buttons of messages it no longer knows).
        app.event(re.compile(r".*"))(self._ignore)
        anything = re.compile(r".*")
        for listen in (app.action, app.shortcut, app.view, app.view_closed, app.options):
            listen(anything)(self._ignore_interaction)

    def app(self) -> web.Application:
        application = web.Application(middlewares=[body_deadline()])
        application.router.add_post(self._path, self._receive)
        return application

    async def start(self) -> None:
        if self._socket_mode is not None:
            await self._socket_mode.connect_async()
            return
        self._runner = runner(self.app())
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._socket_mode is not None:
            await self._socket_mode.close_async()
        if self._runner is not None:
            await self._runner.cleanup()
        await self.settled()

    async def settled(self) -> None:
        """Wait until the work that continued after acknowledging Slack is done."""
        await self._background.settled()

    async def unready(self) -> str | None:
        if self._socket_mode is not None:
            connected = await self._socket_mode.client.is_connected()
            return None if connected else "Socket Mode is not connected"
        return None if self._runner is not None else "not started"

    def describe(self) -> str:
        if self._socket_mode is not None:
            return "Slack: connected in Socket Mode"
        return f"Slack: events, interactivity and /survey served at port {self.port}{self._path}"

    async def _receive(self, request: web.Request) -> web.StreamResponse:
        # bolt checks the signature and its age, but fails on a timestamp that is no number
        # (isdigit alone takes '²' and other digits that int() refuses)
        timestamp = request.headers.get("X-Slack-Request-Timestamp", "")
        if not (timestamp.isascii() and timestamp.isdigit()):
            return web.Response(status=401, text="invalid request")
        response = await self._app.async_dispatch(await to_bolt_request(request))
        return await to_aiohttp_response(response)

    async def _ignore(self) -> None:
        return None

    async def _ignore_interaction(self, ack: Any, body: dict[str, Any]) -> None:
        await ack()
        log.info("slack: ignored a %s interaction civicbot does not offer", body.get("type"))

    async def _on_message(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        if is_answer(event):
            remember(self._latest, event["channel"], event["ts"], most=REMEMBERED)
            locale = await self._locale(event["user"])
            await self._handle_then_ack(message_inbound(body, event, locale))
        elif is_edit(event):
            latest = self._latest.get(event["channel"]) == event["message"].get("ts")
            locale = await self._locale(event["message"]["user"])
            await self._handle_then_ack(edit_inbound(body, event, locale, latest=latest))
        elif event.get("subtype") == "message_deleted" and event.get("channel_type") == "im":
            log.info("slack: a direct message was deleted; whatever it answered stays")

    async def _on_click(self, ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        label = action["text"]["text"]
        await self._answer_by_click(ack, body, action, text=label, value=action["value"])

    async def _on_tick(self, ack: Any) -> None:
        await ack()  # a box ticked or unticked: the answer comes with the send button

    async def _on_send_choices(
        self, ack: Any, body: dict[str, Any], action: dict[str, Any]
    ) -> None:
        """The ticked boxes of every group, sent as one answer."""
        ticked = ticked_options(body.get("state") or {})
        labels = ", ".join(option["text"]["text"] for option in ticked)
        value = answer_of(action["value"], [option["value"] for option in ticked])
        await self._answer_by_click(ack, body, action, text=labels, value=value)

    async def _answer_by_click(
        self, ack: Any, body: dict[str, Any], action: dict[str, Any], *, text: str, value: str
    ) -> None:
        """A button's answer: the question shows it at once, then the turn is stored."""
        locale = await self._locale(body["user"]["id"])
        inbound = click_inbound(body, action, text=text, value=value, locale=locale)
        if text:  # an empty selection is asked again, the boxes stay
            await self._show_choice(body, text)
        await self._handle_then_ack(inbound)
        await ack()

    async def _on_command(self, ack: Any, command: dict[str, Any]) -> None:
        await ack()  # the answer comes through the response_url when the command is done
        if command.get("response_url"):
            self._poster.response_urls.remember(
                command["channel_id"], command["user_id"], command["response_url"]
            )
        self._background.start(self._handler(command_inbound(command)))

    async def _on_mention(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        self._background.start(self._handler(mention_inbound(body, event)))

    async def _handle_then_ack(self, inbound: Inbound) -> None:
        """Hand the event to the core and return (so bolt acknowledges) once its turn is
        stored; the replies follow. A turn not stored within ACK_WITHIN seconds is not
        acknowledged: Slack sends the event again, and if the turn was stored meanwhile
        its event id makes the second delivery change nothing."""
        try:
            await self._background.within(self._handler(inbound), ACK_WITHIN)
        except TimeoutError:
            log.warning(
                "slack event %s not stored in time: left for Slack to retry", inbound.event_id
            )
            raise NotStored("not stored in time") from None

    async def _show_choice(self, body: dict[str, Any], chosen_text: str) -> None:
        """Replace the buttons of the answered question with the choice made."""
        message = body.get("message") or {}
        try:
            await self.client.chat_update(
                channel=body["channel"]["id"],
                ts=body["container"]["message_ts"],
                text=escape(message.get("text", "")),
                blocks=answered(message.get("blocks", []), chosen_text),
            )
        except SlackApiError as error:
            log.warning("could not mark the answered question: %s", error.response.get("error"))

    async def _locale(self, user: str) -> str | None:
        """The participant's Slack language (e.g. fi-FI -> fi), remembered for a while."""
        if user in self._locales:
            self._locales.move_to_end(user)
            return self._locales[user]
        try:  # never long: Slack wants its ack within 3 s, and a 429 would wait it out
            found = await asyncio.wait_for(
                self.client.users_info(user=user, include_locale=True), LOCALE_WAIT
            )
            locale = (found["user"].get("locale") or "").split("-")[0] or None
        except (SlackApiError, TimeoutError):
            locale = None  # the survey's first language; the person can switch
        remember(self._locales, user, locale, most=REMEMBERED)
        return locale

    async def send(self, outbound: Outbound) -> None:
        await self._poster.send(outbound)

    async def open_direct(self, user_id: str) -> str:
        opened = await self.client.conversations_open(users=user_id)
        return opened["channel"]["id"]

    async def resolve_people(self, names: Sequence[str]) -> list[str]:
        return await self._directory.people(names)

    async def channel_members(self, channel: str) -> list[str]:
        """Everyone in a channel, named by mention, id or plain name."""
        channel_id = await self._directory.channel(channel)
        members: list[str] = []
        cursor = None
        try:
            while True:
                page = await self.client.conversations_members(
                    channel=channel_id, cursor=cursor, limit=200
                )
                members.extend(page["members"])
                cursor = (page.get("response_metadata") or {}).get("next_cursor")
                if not cursor:
                    return members
        except SlackApiError as error:
            raise LookupError(error.response.get("error", "unknown error")) from None
