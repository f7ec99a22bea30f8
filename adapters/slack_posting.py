"""Posting civicbot's messages into Slack: split when long, paced per channel, a file
uploaded when there is one, a command's answer through its response_url, and each part
once.

Every posted part carries message metadata naming its outbox id and part number. A
message marked `maybe_sent` (an earlier try lost its connection, or civicbot died
mid-send) is first looked up in the channel's latest history, and only the parts not
found are posted. Ephemeral answers and files carry no metadata Slack gives back, so
they may go twice after a crash.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from adapters.slack_blocks import blocks_for, chunks, escape
from adapters.slack_pacing import (
    POSTS_IN_FLIGHT,
    Clock,
    PostSlots,
    ResponseUrls,
    SharedRateLimit,
)
from bot.events import Outbound, Refused
from conversations.outgoing import Message

log = logging.getLogger(__name__)

MESSAGE_LIMIT = 12_000  # characters per posted message; longer ones (digests) are split
METADATA_TYPE = "civicbot_reply"
# How far back a channel's history is searched for a message that may have been posted:
# replies are checked within minutes of the try, and a direct channel is quiet.
HISTORY_LOOKBACK = 100
# Errors that posting the same message again cannot mend.
LASTING_REFUSALS = frozenset(
    {
        "msg_too_long",
        "no_text",
        "invalid_blocks",
        "invalid_blocks_format",
        "invalid_metadata_format",
        "metadata_too_large",
        "too_many_attachments",
        "invalid_arguments",
    }
)


class SlackPoster:
    def __init__(
        self,
        client: AsyncWebClient,
        *,
        clock: Clock,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rate_limit: SharedRateLimit | None = None,
    ) -> None:
        self._client = client
        self.response_urls = ResponseUrls(clock=clock)
        self._post_slots = PostSlots(clock=clock)
        self._sleep = sleep
        self._rate_limit = rate_limit
        self._in_flight = asyncio.Semaphore(POSTS_IN_FLIGHT)

    async def send(self, outbound: Outbound) -> None:
        """Post the message; raises Refused when Slack took none of it, any other error
        when some of it may be there (the next try checks)."""
        if outbound.attachment is not None:
            await self._upload(outbound)
            return
        message = outbound.message
        parts = chunks(message.text, MESSAGE_LIMIT)
        below = chunks(message.details, MESSAGE_LIMIT) if message.details else []
        if outbound.visible_to:
            below = []
        looked_up = (
            await self._posted(outbound, threaded=bool(below)) if outbound.maybe_sent else {}
        )
        # None: the lookup failed, and parts posted before may be there after all
        none_there = looked_up == {}  # so a refusal of the first post means none of it went
        there = looked_up or {}
        thread = there.get(1)  # the first part's ts: the fold's parts reply to it
        for number, part in enumerate(parts, start=1):
            if number in there:
                continue
            last = number == len(parts)  # the choices go under the last part
            piece = replace(message, text=part, choices=message.choices if last else ())
            if outbound.visible_to:
                await self._tell(outbound, part, piece, first=none_there)
            else:
                fields = {"text": part, "blocks": blocks_for(piece)}
                posted = await self._post(outbound, number, first=none_there, **fields)
                thread = thread or posted.get("ts")
            none_there = False
        for number, part in enumerate(below, start=len(parts) + 1):
            if number not in there:
                fields = {"text": part, "blocks": blocks_for(Message(part)), "thread_ts": thread}
                await self._post(outbound, number, first=False, **fields)

    async def _post(self, outbound: Outbound, number: int, *, first: bool, **fields: Any) -> Any:
        await self._pace(outbound.conversation_id)
        metadata = None
        if outbound.outbox_id is not None:
            payload = {"outbox_id": outbound.outbox_id, "part": number}
            metadata = {"event_type": METADATA_TYPE, "event_payload": payload}
        try:
            async with self._in_flight:
                if self._rate_limit is not None:
                    await self._rate_limit.wait()
                return await self._client.chat_postMessage(
                    channel=outbound.conversation_id,
                    **{**fields, "text": escape(fields["text"])},
                    metadata=metadata,
                    unfurl_links=False,
                    unfurl_media=False,
                )
        except SlackApiError as error:
            refused(error, first=first)

    async def _posted(self, outbound: Outbound, *, threaded: bool) -> dict[int, str] | None:
        """The parts of the message already in the channel (and in its thread), by number;
        None when that cannot be known."""
        if outbound.outbox_id is None or outbound.visible_to:
            return None
        channel = outbound.conversation_id
        try:
            history = await self._client.conversations_history(
                channel=channel, limit=HISTORY_LOOKBACK, include_all_metadata=True
            )
            there = parts_of(history.get("messages") or [], outbound.outbox_id)
            if threaded and 1 in there:
                replies = await self._client.conversations_replies(
                    channel=channel, ts=there[1], include_all_metadata=True
                )
                there.update(parts_of(replies.get("messages") or [], outbound.outbox_id))
        except SlackApiError as error:  # no history scope, say: better twice than never
            log.warning(
                "slack: could not look up outbox row %d (%s); posting it",
                outbound.outbox_id,
                error.response.get("error"),
            )
            return None
        if there:
            log.info(
                "slack: outbox row %d was posted before (%d parts)", outbound.outbox_id, len(there)
            )
        return there

    async def _tell(self, outbound: Outbound, text: str, piece: Message, *, first: bool) -> None:
        """Only for the user: through their latest command's response_url, else ephemeral."""
        await self._pace(outbound.conversation_id)
        channel, user = outbound.conversation_id, outbound.visible_to
        assert user is not None
        if await self._respond(channel, user, text, piece):
            return
        try:
            await self._client.chat_postEphemeral(
                channel=channel, user=user, text=escape(text), blocks=blocks_for(piece)
            )
        except SlackApiError as error:
            refused(error, first=first)

    async def _respond(self, channel: str, user: str, text: str, piece: Message) -> bool:
        """Answer the user's latest command in this channel through its response_url,
        which Slack shows privately; False when there is none left, so the caller posts
        an ephemeral message instead."""
        url = self.response_urls.take(channel, user)
        if url is None:
            return False
        try:
            answered = await AsyncWebhookClient(url).send(
                text=escape(text), blocks=blocks_for(piece), response_type="ephemeral"
            )
        except (aiohttp.ClientError, TimeoutError) as error:
            log.warning("slack response_url failed (%s); posting instead", error)
            return False
        if answered.status_code != 200:
            log.warning("slack response_url answered %d; posting instead", answered.status_code)
            return False
        return True

    async def _upload(self, outbound: Outbound) -> None:
        attachment = outbound.attachment
        assert attachment is not None
        await self._pace(outbound.conversation_id)
        try:
            await self._client.files_upload_v2(
                channel=outbound.conversation_id,
                content=attachment.content(),  # slack_sdk reads a file whole anyway
                filename=attachment.filename,
                title=attachment.filename,
                alt_txt=attachment.description or None,
                initial_comment=escape(outbound.message.text),
            )
        except SlackApiError as error:
            refused(error, first=True)

    async def _pace(self, channel: str) -> None:
        wait = self._post_slots.take(channel)
        if wait:
            await self._sleep(wait)


def refused(error: SlackApiError, *, first: bool) -> None:
    """Raise Slack's refusal as Refused when nothing of the message is there (`first`),
    else as it is: what was posted before is looked up at the next try."""
    if not first:
        raise error
    code = error.response.get("error") or "unknown"
    raise Refused(code, lasting=code in LASTING_REFUSALS) from None


def parts_of(messages: list[dict[str, Any]], outbox_id: int) -> dict[int, str]:
    """The timestamps of the messages that carry this outbox id, by part number."""
    found: dict[int, str] = {}
    for message in messages:
        metadata = message.get("metadata") or {}
        payload = metadata.get("event_payload") or {}
        if metadata.get("event_type") == METADATA_TYPE and payload.get("outbox_id") == outbox_id:
            found[int(payload.get("part", 1))] = message["ts"]
    return found
