"""Who `@ann` and `#team` are in Slack.

A coordinator may name people and channels as Slack sends them (`<@U024BE7LH|ann>`,
`<#C0123|team>`, with the slash command's escaping on), as ids, or by their plain
names (`@ann`, `@Ann Smith`, `#team`). Plain names are looked up in the workspace's
directory (`users.list`, `conversations.list`, every page of it), kept for a few
minutes; a name that matches nobody, or more than one person, is named back to the
coordinator instead of guessed.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from conversations.text import fold

USER_MENTION = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$")
CHANNEL_MENTION = re.compile(r"^<#([CG][A-Z0-9]+)(?:\|[^>]*)?>$")
USER_ID = re.compile(r"^[UW][A-Z0-9]{6,}$")
CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{6,}$")
CACHE_SECONDS = 600.0  # how long a looked-up directory is trusted
PAGE = 200  # Slack's recommended page size


class SlackDirectory:
    def __init__(
        self, client: AsyncWebClient, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._client = client
        self._clock = clock
        self._people: tuple[float, dict[str, list[str]]] | None = None
        self._channels: tuple[float, dict[str, list[str]]] | None = None
        self._shown: dict[str, str] = {}  # id -> how Slack shows the person or channel

    async def people(self, names: Iterable[str]) -> list[str]:
        """The user ids of `names`; LookupError naming every one that is unknown or
        ambiguous (then nobody is returned)."""
        ids: list[str] = []
        problems: list[str] = []
        for name in names:
            given = name.strip().strip(",")
            found = USER_MENTION.match(given)
            if found or USER_ID.match(given):
                ids.append(found.group(1) if found else given)
                continue
            matches = (await self._directory("people")).get(fold(given.lstrip("@")), [])
            if len(matches) == 1:
                ids.append(matches[0])
            else:
                problems.append(self._problem(given, matches, "person"))
        if problems:
            raise LookupError("; ".join(problems))
        return ids

    async def channel(self, name: str) -> str:
        """The id of the channel `name`; LookupError when none or several have it."""
        given = name.strip()
        found = CHANNEL_MENTION.match(given)
        if found or CHANNEL_ID.match(given.lstrip("#")):
            return found.group(1) if found else given.lstrip("#")
        matches = (await self._directory("channels")).get(fold(given.lstrip("#")), [])
        if len(matches) != 1:
            raise LookupError(self._problem(given, matches, "channel"))
        return matches[0]

    def _problem(self, given: str, matches: list[str], kind: str) -> str:
        if not matches and kind == "person":
            return f"nobody in this workspace is called {given}"
        if not matches:
            return f"there is no channel {given} that civicbot can see"
        listed = ", ".join(f"{self._shown.get(m, '')} {m}".strip() for m in matches[:5])
        return f"{given} could be any of {len(matches)} ({listed}): name them by id or mention"

    async def _directory(self, kind: str) -> dict[str, list[str]]:
        cached = self._people if kind == "people" else self._channels
        if cached is not None and self._clock() - cached[0] < CACHE_SECONDS:
            return cached[1]
        try:
            names = await (self._read_people() if kind == "people" else self._read_channels())
        except SlackApiError as error:
            raise LookupError(
                f"Slack did not list the workspace's {kind}: "
                f"{error.response.get('error', 'unknown error')}"
            ) from None
        if kind == "people":
            self._people = (self._clock(), names)
        else:
            self._channels = (self._clock(), names)
        return names

    async def _read_people(self) -> dict[str, list[str]]:
        by_name: dict[str, list[str]] = {}
        async for member in self._pages("users_list", "members"):
            if member.get("deleted") or member.get("is_bot"):
                continue
            profile = member.get("profile") or {}
            known = {member.get("name"), member.get("real_name"), profile.get("display_name")}
            known |= {profile.get("real_name")}
            for written in known - {None, ""}:
                by_name.setdefault(fold(written), []).append(member["id"])
            self._shown[member["id"]] = member.get("real_name") or member.get("name", "")
        return by_name

    async def _read_channels(self) -> dict[str, list[str]]:
        by_name: dict[str, list[str]] = {}
        async for channel in self._pages(
            "conversations_list", "channels", types="public_channel,private_channel"
        ):
            if not channel.get("is_archived"):
                by_name.setdefault(fold(channel["name"]), []).append(channel["id"])
                self._shown[channel["id"]] = f"#{channel['name']}"
        return by_name

    async def _pages(self, method: str, key: str, **params: Any):
        cursor = None
        while True:
            page = await getattr(self._client, method)(cursor=cursor, limit=PAGE, **params)
            for item in page[key]:
                yield item
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return
