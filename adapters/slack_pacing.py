"""Bookkeeping for Slack's limits, with the clock passed in: posts paced per channel, and
slash commands' response URLs used while Slack still takes answers there."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from adapters.recently import remember

REMEMBERED = 4_096  # channels' post slots, command reply URLs
POST_INTERVAL = 1.0  # seconds per post into one channel over time, as Slack asks...
POST_BURST = 4  # ...allowing a short burst, as Slack does
# A slash command's response_url takes up to five answers within thirty minutes.
RESPONSE_URL_USES = 5
RESPONSE_URL_SECONDS = 30 * 60 - 60  # a minute's margin

Clock = Callable[[], float]


class PostSlots:
    """About one post per second per channel after a short burst: each post takes the next
    free slot, and the slots run at most POST_BURST intervals ahead of now."""

    def __init__(self, *, clock: Clock = time.monotonic) -> None:
        self._clock = clock
        self._next: OrderedDict[str, float] = OrderedDict()

    def take(self, channel: str) -> float:
        """Take the channel's next slot; the seconds to wait for it."""
        now = self._clock()
        earliest = now - (POST_BURST - 1) * POST_INTERVAL
        slot = max(earliest, self._next.get(channel, earliest))
        remember(self._next, channel, slot + POST_INTERVAL, most=REMEMBERED)
        return max(0.0, slot - now)


@dataclass(slots=True)
class _ResponseUrl:
    url: str
    expires: float
    uses_left: int


class ResponseUrls:
    """Where to answer each user's latest command in a channel, while Slack takes it."""

    def __init__(self, *, clock: Clock = time.monotonic) -> None:
        self._clock = clock
        self._urls: OrderedDict[tuple[str, str], _ResponseUrl] = OrderedDict()

    def remember(self, channel: str, user: str, url: str) -> None:
        expires = self._clock() + RESPONSE_URL_SECONDS
        remember(
            self._urls,
            (channel, user),
            _ResponseUrl(url, expires, RESPONSE_URL_USES),
            most=REMEMBERED,
        )

    def take(self, channel: str, user: str) -> str | None:
        """The URL for one more answer, or None when there is none left."""
        found = self._urls.get((channel, user))
        if found is None or found.expires < self._clock() or found.uses_left <= 0:
            return None
        found.uses_left -= 1
        return found.url
