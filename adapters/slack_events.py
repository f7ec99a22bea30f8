"""Slack's payloads as core events: pure functions of the dicts Slack sends.

The adapter (adapters/slack.py) receives them through bolt, looks up what needs
an API call (the person's language) and hands the result to the core.
"""

from __future__ import annotations

import re
import time
from typing import Any

from bot.events import Inbound

PLATFORM = "slack"
_MENTION = re.compile(r"^\s*<@[A-Z0-9]+(\|[^>]*)?>")


def is_answer(event: dict[str, Any]) -> bool:
    """A person's own message in a direct conversation: not an edit, a join, a bot's
    message (civicbot's own among them) or channel chatter."""
    return (
        event.get("channel_type") == "im" and not event.get("subtype") and not event.get("bot_id")
    )


def is_edit(event: dict[str, Any]) -> bool:
    """A person's edit of their own message in a direct conversation; not a bot's update
    (civicbot marks answered questions so), nor an unfurl that left the text as it was."""
    edited = event.get("message") or {}
    before = event.get("previous_message") or {}
    return (
        event.get("channel_type") == "im"
        and event.get("subtype") == "message_changed"
        and "user" in edited
        and not edited.get("bot_id")
        and edited.get("text") != before.get("text")
    )


def edit_inbound(
    body: dict[str, Any], event: dict[str, Any], locale: str | None, *, latest: bool
) -> Inbound:
    """The edited message as a message with its new text, sent when it was edited."""
    edited = {**event["message"], "channel": event["channel"]}
    edited["ts"] = event.get("event_ts") or edited["ts"]
    return message_inbound(body, edited, locale)._replace(edited="latest" if latest else "older")


def message_inbound(body: dict[str, Any], event: dict[str, Any], locale: str | None) -> Inbound:
    return Inbound(
        platform=PLATFORM,
        user_id=event["user"],
        conversation_id=event["channel"],
        is_direct=True,
        text=event.get("text", ""),
        event_id=body["event_id"],
        timestamp=float(event["ts"]),
        locale=locale,
    )


def click_inbound(
    body: dict[str, Any], action: dict[str, Any], *, text: str, value: str, locale: str | None
) -> Inbound:
    """A button or a send button: `value` is the answer it carries, `text` what it read."""
    channel = body["channel"]["id"]
    return Inbound(
        platform=PLATFORM,
        user_id=body["user"]["id"],
        conversation_id=channel,
        is_direct=channel.startswith("D"),
        text=text,
        action=value,
        event_id=f"{body['container']['message_ts']}:{action['action_ts']}",
        timestamp=float(action["action_ts"]),
        locale=locale,
    )


def command_inbound(command: dict[str, Any]) -> Inbound:
    """`/survey …`: the trigger id is unique to each use of the command."""
    return Inbound(
        platform=PLATFORM,
        user_id=command["user_id"],
        conversation_id=command["channel_id"],
        is_direct=False,
        text=command.get("text", ""),
        event_id=command["trigger_id"],
        timestamp=time.time(),
        command=True,
        workspace=command.get("team_id"),
    )


def mention_inbound(body: dict[str, Any], event: dict[str, Any]) -> Inbound:
    """`@civicbot survey …` in a channel: a command, like /survey."""
    return Inbound(
        platform=PLATFORM,
        user_id=event["user"],
        conversation_id=event["channel"],
        is_direct=False,
        text=_MENTION.sub("", event.get("text", ""), count=1).strip(),
        event_id=body["event_id"],
        timestamp=float(event["ts"]),
        command=True,
        workspace=body.get("team_id"),
    )
