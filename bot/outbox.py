"""Sending stored replies. A reply is in the outbox before it is sent and leaves it
after. A reply that may have reached its platform before a crash or a lost connection
goes again marked `maybe_sent`, with its outbox id, so that the adapter sends only what
the platform does not have yet (Slack's message metadata, Matrix's transaction ids, the
web page's ids). A reply the platform refuses for good, or that fails for about a day,
is dead: logged, counted in `survey status` and /readyz, and never tried again."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import replace
from functools import partial

from bot.events import Outbound, Refused
from bot.metrics import Metrics
from conversations.outgoing import Message
from storage.contract import Storage
from storage.records import StorageClosed

log = logging.getLogger(__name__)

Send = Callable[[Outbound], Awaitable[None]]
RETRY_DELAYS = (0.5, 1.0, 2.0, 5.0, 10.0)
SWEEP_SECONDS = 60.0  # how often, and after how long, failed replies are tried again
RESEND_AT_ONCE = 32  # conversations whose waiting replies are sent side by side
ROUNDS_BUDGET = 24 * 60  # failed rounds of tries before a reply is dead: a day of sweeps
TELL_DEAD_EVERY = 3600.0  # seconds between notices to staff of dead replies, per reason

# Told when a reply is given up: its platform and the platform's reason.
OnDead = Callable[[str, str], Awaitable[None]]
# A delivered reply leaves the outbox with the next write, a fraction of a second later;
# if that write fails, the reply is kept from sweeps for this many seconds all the same.
FORGET_WITHIN = 600.0


class OutboxSender:
    def __init__(
        self,
        store: Storage,
        senders: dict[str, Send],
        *,
        retry_delays: Iterable[float] = RETRY_DELAYS,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.time,
        metrics: Metrics | None = None,
    ) -> None:
        self._clock = clock
        self.on_dead: OnDead | None = None  # set by the wiring: tells staff
        self._told_dead: dict[tuple[str, str], float] = {}
        self._metrics = metrics or Metrics()
        self._store = store
        self._senders = senders
        self._retry_delays = tuple(retry_delays)
        self._sleep = sleep
        self._in_flight: set[int] = set()
        self._sent: list[int] = []
        # Delivered ids whose removal from the outbox is not committed yet, with when: a
        # sweep meanwhile must not send them again. Each leaves once its removal commits.
        self._delivered: dict[int, float] = {}
        self._cleanup_scheduled = False
        # Conversations whose replies left from before are being sent again: a new
        # reply into one waits for them.
        self._resending: dict[tuple[str, str], asyncio.Event] = {}

    async def send(self, messages: list[Outbound], *, resending: bool = False) -> bool:
        """Send stored messages (each with its outbox id) in order; True if all went.
        Unsent ones stay in the outbox. New replies into a conversation whose older ones
        are being sent again wait for them."""
        if not resending and self._resending:
            for key in {(m.platform, m.conversation_id) for m in messages}:
                if (earlier := self._resending.get(key)) is not None:
                    await earlier.wait()
        delivered = True
        for message in messages:
            if message.outbox_id in self._in_flight or message.outbox_id in self._delivered:
                continue
            self._in_flight.add(message.outbox_id)
            try:
                delivered = await self._send_one(message) and delivered
            finally:
                self._in_flight.discard(message.outbox_id)
        return delivered

    async def resend_unsent(self, *, queued_before: float | None = None) -> int:
        """Send whatever the outbox still holds (after a restart, or after failures)."""
        backlog = await self.unsent(queued_before=queued_before)
        await self.resend(backlog)
        return sum(map(len, backlog))

    async def unsent(self, *, queued_before: float | None = None) -> list[list[Outbound]]:
        """What the outbox holds, by conversation, each in order; from now until `resend`
        has sent them, new replies into those conversations wait behind them."""
        now = time.monotonic()
        self._delivered = {i: at for i, at in self._delivered.items() if now - at < FORGET_WITHIN}
        conversations: dict[tuple[str, str], list[Outbound]] = {}
        # only the platforms this worker has adapters for: another worker may lead Matrix
        served = list(self._senders)
        for row in await self._store.unsent(queued_before=queued_before, platforms=served):
            key = (row.platform, row.conversation_id)
            if row.id in self._in_flight or row.id in self._delivered or key in self._resending:
                continue  # on its way already
            message = Message.from_json(row.body)
            conversations.setdefault(key, []).append(
                Outbound(*key, message, row.id, maybe_sent=row.maybe_sent)
            )
        for key in conversations:
            self._resending[key] = asyncio.Event()
        return list(conversations.values())

    async def caught_up(self) -> None:
        """Wait until what was left in the outbox at the last `unsent` has been tried."""
        for waiting in list(self._resending.values()):
            await waiting.wait()

    async def resend(self, backlog: list[list[Outbound]]) -> None:
        """Send what `unsent` gave: in order within each conversation; conversations side
        by side, so that a restart after an outage is not one slow platform call after
        another."""
        if not backlog:
            return
        log.info("sending %d replies left in the outbox", sum(map(len, backlog)))
        at_once = asyncio.Semaphore(RESEND_AT_ONCE)

        async def resend(queued: list[Outbound]) -> None:
            key = (queued[0].platform, queued[0].conversation_id)
            try:
                async with at_once:
                    await self.send(queued, resending=True)
            finally:
                self._resending.pop(key).set()

        await asyncio.gather(*(resend(queued) for queued in backlog))

    async def _send_one(self, message: Outbound) -> bool:
        send = self._senders.get(message.platform)
        if send is None:
            log.error(
                "no adapter for platform %r; outbox row %d waits",
                message.platform,
                message.outbox_id,
            )
            return False
        failure: Exception | None = None
        for attempt, delay in enumerate((*self._retry_delays, None), start=1):
            try:
                await send(message)
            except Refused as refusal:  # surely not sent: no need to check next time
                failure, message = refusal, replace(message, maybe_sent=False)
                log.warning(
                    "%s refused outbox row %d (attempt %d): %s",
                    message.platform,
                    message.outbox_id,
                    attempt,
                    refusal.reason,
                )
            except Exception as error:  # it may have gone through all the same
                failure, message = error, replace(message, maybe_sent=True)
                log.exception(
                    "sending outbox row %d failed (attempt %d)", message.outbox_id, attempt
                )
            else:
                self._metrics.sends.inc(message.platform, "sent")
                self._forget(message.outbox_id)
                return True
            self._metrics.sends.inc(message.platform, "failed")
            if delay is None or (isinstance(failure, Refused) and failure.lasting):
                break
            await self._sleep(delay)
        await self._note(message, failure)
        return False

    async def _note(self, message: Outbound, failure: Exception | None) -> None:
        """Keep what the round of tries found out, for the next one after a restart too."""
        if message.outbox_id is None or failure is None:
            return
        refusal = failure if isinstance(failure, Refused) else None
        reason = refusal.reason if refusal else type(failure).__name__
        try:
            dead = await self._store.note_failure(
                message.outbox_id,
                refused=refusal is not None,
                failure=reason,
                lasting=refusal is not None and refusal.lasting,
                budget=ROUNDS_BUDGET,
                now=self._clock(),
            )
        except StorageClosed:
            return
        if dead:
            self._metrics.sends.inc(message.platform, "dead")
            log.error(
                "gave up on outbox row %d to %s (%s): it is not tried again",
                message.outbox_id,
                message.platform,
                reason,
            )
            await self._tell_dead(message.platform, reason)

    async def _tell_dead(self, platform: str, reason: str) -> None:
        """Tell staff, once an hour at most for the same reason: a platform that refuses
        every reply must not flood their channel too."""
        now = self._clock()
        told = self._told_dead.get((platform, reason))
        if self.on_dead is None or (told is not None and now - told < TELL_DEAD_EVERY):
            return
        self._told_dead[(platform, reason)] = now
        try:
            await self.on_dead(platform, reason)
        except Exception:
            log.exception("could not tell staff of a reply given up")

    def _forget(self, outbox_id: int) -> None:
        # Sent ids are removed in one write per loop iteration rather than one each.
        self._sent.append(outbox_id)
        self._delivered[outbox_id] = time.monotonic()
        if not self._cleanup_scheduled:
            self._cleanup_scheduled = True
            asyncio.get_running_loop().call_soon(self._cleanup)

    def _cleanup(self) -> None:
        self._cleanup_scheduled = False
        sent, self._sent = self._sent, []
        if not sent:
            return
        try:
            self._store.forget_sent(sent).add_done_callback(partial(self._removed, sent))
        except StorageClosed:  # a send that finished while civicbot was stopping
            log.warning(
                "%d delivered replies stay in the outbox and may go again after a restart",
                len(sent),
            )

    @property
    def awaiting_removal(self) -> int:
        """Delivered replies still in the outbox, their removal not yet committed."""
        return len(self._delivered)

    def _removed(self, sent: list[int], removal: asyncio.Future[None]) -> None:
        """Gone from the outbox: no sweep can find them now. (If the removal failed, they
        stay known as delivered until FORGET_WITHIN, and a sweep after that sends them
        once more.)"""
        if not removal.cancelled() and removal.exception() is None:
            for outbox_id in sent:
                self._delivered.pop(outbox_id, None)

    async def settle(self) -> None:
        """Wait until everything sent so far is also gone from the outbox."""
        self._cleanup()
        await self._store.flushed()
