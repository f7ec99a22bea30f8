"""How every turn is stored and its replies sent, whoever starts it (a person's message,
an invitation, a reminder, a staff reply): one turn of a person at a time, stored with
its replies before any is sent, and their replies sent in the order they were stored."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import date
from typing import Any, TypeVar

from bot.events import Inbound, Outbound
from bot.metrics import Metrics
from bot.outbox import OutboxSender
from bot.per_participant import InOrder, ParticipantLocks
from conversations import engine
from conversations.outgoing import Message, typed_text
from conversations.state import State, Turn
from conversations.survey import Survey
from storage.contract import Storage
from storage.records import ConversationRow, Loaded, OutboxMessage, TurnConflict, TurnRecord

# What a response's status becomes after each engine outcome.
RESPONSE_STATUS = {
    "started": "started",
    "consented": "answering",
    "resumed": "answering",
    "declined": "declined",
    "completed": "completed",
    "stopped": "stopped",
}

T = TypeVar("T")

# Times a turn is run again because another worker stored one of the same person first;
# each loses only to a turn that was stored, so more in a row means a flood of them.
CONFLICT_RETRIES = 5


class TurnWriter:
    def __init__(self, *, store: Storage, outbox: OutboxSender, metrics: Metrics) -> None:
        self._store = store
        self._outbox = outbox
        self._metrics = metrics
        self.serial = ParticipantLocks()  # one turn of a person at a time
        self.replies = InOrder()  # per person, in the order their turns were stored
        self.texting: set[str] = set()  # platforms whose turns send one message (SMS)

    async def commit(
        self,
        record: TurnRecord,
        said: tuple[Message, ...],
        platform: str,
        to: str,
        *,
        also: tuple[tuple[str, str, Message], ...] = (),
    ) -> list[Outbound] | None:
        """Store the turn with its replies (as one message, by text message), and `also`
        (platform, conversation, message) to others; what to send, or None for a
        redelivery."""
        whole = platform in self.texting
        said = merged(said, whole=whole)
        if record.language:  # the conversation's language after this turn, where unsaid
            said = tuple(m if m.language else replace(m, language=record.language) for m in said)
        if record.accessible is not None:  # the profile switched: the web page's setting follows
            said = tuple(replace(m, accessible=record.accessible) for m in said)
        addressed = [(platform, to, m) for m in said] + list(also)
        record.outbox = [OutboxMessage(p, where, m.to_json()) for p, where, m in addressed]
        outbox_ids = await self._store.commit_turn(record)
        if outbox_ids is None:
            return None
        return [
            Outbound(p, where, m, outbox_id=outbox_id)
            for (p, where, m), outbox_id in zip(addressed, outbox_ids, strict=True)
        ]

    async def again_on_conflict(self, turn: Callable[..., Awaitable[T]], *arguments: Any) -> T:
        """Run `turn` until it is stored on what it read: another worker may store a turn
        of the same person meanwhile (PostgreSQL), and then this one is run again on it."""
        for _ in range(CONFLICT_RETRIES):
            try:
                return await turn(*arguments)
            except TurnConflict:
                self._metrics.turn_conflicts.inc()
        return await turn(*arguments)

    async def deliver(
        self, record: TurnRecord, text: str, platform: str, to: str, *, wait: bool = True
    ) -> bool:
        """Store a turn that reads nothing and says `text`, and send it, waiting for the
        send unless not `wait` (it is in the outbox by then); False if its event was
        stored before."""
        async with self.serial.hold(record.pid):
            stored = await self.commit(record, (Message(text),), platform, to)
            if not stored:
                return False
            sending = self.send_after(record.pid, stored)
        if wait:
            await sending
        return True

    def send_after(self, pid: str, stored: list[Outbound]) -> Awaitable[None]:
        """Send once the person's earlier replies have gone."""
        return self.replies.then(pid, functools.partial(self._outbox.send, stored))


def current_survey(loaded: Loaded, surveys: dict[str, Survey]) -> tuple[Survey, State] | None:
    """The survey of the participant's conversation and where it stands, unless it has
    ended or its run closed (it may have expired)."""
    conversation = loaded.conversation
    if conversation is None or conversation.finished or not conversation.run_open:
        return None
    state = State.from_json(conversation.state)
    survey = surveys.get(state.survey_id)
    return None if survey is None else (survey, state)


def ongoing_survey(
    loaded: Loaded, surveys: dict[str, Survey], now: float
) -> tuple[Survey, State] | None:
    """The current conversation, unless it has also expired (with the accessible profile
    on, none ever does: some people need longer)."""
    found = current_survey(loaded, surveys)
    if found is None or (not loaded.accessible and expired(loaded.conversation, found[0], now)):
        return None
    return found


def expired(conversation: ConversationRow, survey: Survey, now: float) -> bool:
    """No change for longer than the survey waits: the conversation has moved on."""
    return conversation.updated_at < now - survey.expires_after.total_seconds()


def merged(said: tuple[Message, ...], *, whole: bool = False) -> tuple[Message, ...]:
    """What the engine said, in as few messages as possible: a message ends with the one
    whose choices it shows, so buttons always sit under the question they answer. `whole`
    (text messages, which have no buttons): in one message, earlier choices as numbered
    lines of its text."""
    if len(said) == 1:  # the usual turn: one question
        return said
    messages: list[Message] = []
    texts: list[str] = []
    for number, message in enumerate(said, start=1):
        if whole and number < len(said):
            texts.append(typed_text(message))
            continue
        texts.append(message.text)
        if message.choices:
            messages.append(replace(message, text="\n\n".join(texts)))
            texts = []
    if texts:
        messages.append(Message("\n\n".join(texts)))
    return tuple(messages)


def step_into(
    record: TurnRecord,
    conversation: ConversationRow,
    survey: Survey,
    before: State,
    inbound: Inbound,
    *,
    today: date,
    accessible: bool = False,
) -> Turn:
    """Run the engine on the person's message (`accessible`: they have the accessible
    profile on) and note in `record` what it changed."""
    turn = engine.step(
        survey, before, inbound.text, action=inbound.action, today=today, accessible=accessible
    )
    record.run_id = conversation.run_id
    record.response_id = conversation.response_id
    record.anonymous = survey.anonymous
    if turn.state != before:
        record.state = turn.state.to_json()
        record.finished = turn.state.finished
        record.language = turn.state.language
    if turn.answer is not None:
        record.answer = (turn.answer.question_id, turn.answer.value)
    record.retract = turn.retract
    record.may_reply = turn.may_reply
    record.accessible = turn.accessible
    if turn.outcome is not None:
        record.status = RESPONSE_STATUS[turn.outcome]
    if conversation.response_id is None and (record.answer or record.status):
        # an anonymous response begins with the person's first answer (consent given
        # or refused counts), so nothing in it says when they were invited
        record.start_response = True
        record.channel = inbound.platform
    return turn
