"""Bookkeeping for Slack's limits, with the clock passed in: posts paced per channel, and
slash commands' response URLs used while Slack still takes answers there."""

from __future__ import annotations

import asyncio
import random
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

from adapters.recently import remember

REMEMBERED = 4_096  # channels' post slots, command reply URLs
POST_INTERVAL = 1.0  # seconds per post into one channel over time, as Slack asks...
POST_BURST = 4  # ...allowing a short burst, as Slack does
# Posts in flight at once: after a 429 only these few find out by a 429 of their own, not
# every reply of an invitation wave or a follow-up to thousands.
POSTS_IN_FLIGHT = 8
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


class SharedRateLimit(AsyncRateLimitErrorRetryHandler):
    """Slack's 429s, honoured by every post: the Retry-After that one post gets holds back
    the posts that follow (they `wait`) as well as its own retry. Slack limits posts per
    channel, which PostSlots keeps to, and per workspace, with no published figure: only
    its 429s tell."""

    def __init__(self, max_retry_count: int = 5) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self._until = 0.0  # time.monotonic() until which Slack asked for no more posts

    async def prepare_for_next_attempt_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        if response is None or not request.url.endswith("chat.postMessage"):
            # other methods have limits of their own, which posts need not wait for
            await super().prepare_for_next_attempt_async(
                state=state, request=request, response=response, error=error
            )
            return
        state.next_attempt_requested = True
        after = next((v for k, v in response.headers.items() if k.lower() == "retry-after"), None)
        seconds = float(after[0]) if after else 1.0
        self._until = max(self._until, time.monotonic() + seconds)
        await self.wait()
        state.increment_current_attempt()

    async def wait(self) -> None:
        """Until Slack's latest Retry-After has passed, with a little jitter so that the
        waiting posts do not all go in the same instant."""
        left = self._until - time.monotonic()
        if left > 0:
            await asyncio.sleep(left + random.uniform(0, 0.1))
