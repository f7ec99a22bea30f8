"""The bot core: an Inbound event in, a stored turn, replies out.

For each participant, events are handled one at a time in arrival order; different
participants run concurrently. A turn is committed whole (event id, state, answer,
replies) before any reply is sent, and an event id seen before changes nothing.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.answer_back import AnswersBack
from bot.assisted import AssistedSessions
from bot.events import Delivery, Inbound, NotStored, Outbound, delivered
from bot.metrics import Metrics
from bot.my_data import stored_data
from bot.outbox import OutboxSender
from bot.outreach import Outreach
from bot.survey_files import SurveyCatalogue
from bot.turn_writer import (
    RESPONSE_STATUS,
    TurnWriter,
    current_survey,
    expired,
    ongoing_survey,
    step_into,
)
from conversations import engine
from conversations.messages import OFF_WORDS, command_in, command_of, say, speaks
from conversations.outgoing import Choice, Message
from conversations.state import State, Turn
from conversations.survey import Survey
from storage.contract import Storage
from storage.records import Loaded, TurnRecord

log = logging.getLogger(__name__)


class Bot:
    def __init__(
        self,
        *,
        store: Storage,
        surveys: SurveyCatalogue,
        outbox: OutboxSender,
        clock: Callable[[], float] = time.time,
        timezone: str = "UTC",
        staff_channel: str | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self._metrics = metrics or Metrics()
        self._store = store
        self._surveys = surveys
        self._answer_back = AnswersBack(store=store, surveys=surveys)
        self._outbox = outbox
        self._clock = clock
        self._zone = ZoneInfo(timezone)  # where "today" is, for answers such as "yesterday"
        self._staff_channel = staff_channel  # digests of open surveys that name none go here
        self._prompts: dict[tuple[str, tuple[str, ...]], Message] = {}
        self._turns = TurnWriter(store=store, outbox=outbox, metrics=self._metrics)
        self.assisted = AssistedSessions(store=store, surveys=surveys, turns=self._turns)
        self.outreach = Outreach(
            store=store, surveys=surveys, turns=self._turns, clock=clock, metrics=self._metrics
        )

    @property
    def texting(self) -> set[str]:
        """The platforms of text messages (Capabilities.texting), which the wiring adds."""
        return self._turns.texting

    async def dispatch(self, inbound: Inbound) -> Delivery:
        """Handle one event: store its turn and return (its platform may now be told it
        arrived), the replies following after this person's earlier ones. Raises
        NotStored when the turn could not be stored, so the adapter does not acknowledge
        the event; a failure after that is logged and stays with this event."""
        if not inbound.is_direct:
            return delivered()  # group messages carry commands, not answers
        pid = self._store.pseudonym(inbound.platform, inbound.user_id)
        arrived = time.perf_counter()
        async with self._turns.serial.hold(pid):
            try:
                stored = await self._turns.again_on_conflict(self._store_turn, pid, inbound)
            except Exception as error:
                log.exception("%s event %s was not stored", *inbound.logged)
                self._metrics.turns.inc(inbound.platform, "not_stored")
                raise NotStored(str(error)) from None
            outcome = "stored" if stored is not None else "redelivered"
            self._metrics.turns.inc(inbound.platform, outcome)
            self._metrics.turn_seconds.observe(time.perf_counter() - arrived)
            if not stored:
                return delivered()
            return self._turns.replies.then(pid, functools.partial(self._send, stored, inbound))

    async def _send(self, stored: list[Outbound], inbound: Inbound) -> None:
        try:
            await self._outbox.send(stored)
        except Exception:  # the replies wait in the outbox for its sweep
            log.exception("sending the replies to %s event %s failed", *inbound.logged)

    async def settled(self) -> None:
        """Wait until the replies of every stored turn have been sent or left to the outbox."""
        await self._turns.replies.settled()

    async def _store_turn(self, pid: str, inbound: Inbound) -> list[Outbound] | None:
        """Run and store the turn; None if the event was a redelivery (nothing changes).
        A redelivered event runs the engine for nothing: the write recognises it."""
        event_key = f"{inbound.platform}:{inbound.event_id}"
        loaded = await self._store.load(pid)
        record = TurnRecord(
            event_key=event_key,
            pid=pid,
            now=self._clock(),
            outbox=[],
            new_participant=not loaded.known_participant,
            based_on=loaded.version,
        )
        if loaded.assist is not None:  # staff typing someone else's answers
            today = datetime.fromtimestamp(record.now, self._zone).date()
            return await self.assisted.turn(pid, loaded, inbound, record, today)
        if loaded.address != inbound.conversation_id:
            record.address = (inbound.platform, inbound.user_id, inbound.conversation_id)
        if inbound.edited and not _answers_again(
            ongoing_survey(loaded, self._surveys.surveys, record.now), inbound
        ):
            # an answer the survey took stays as given: `back` is the way to change it
            lang = _language_of(loaded, inbound)
            kept = (
                (Message(say(lang, "edit_kept")),)
                if ongoing_survey(loaded, self._surveys.surveys, record.now)
                else ()
            )
            return await self._turns.commit(record, kept, inbound.platform, inbound.conversation_id)
        word, argument = command_in(inbound.text, inbound.action) or (None, "")
        if word == "forget_me":
            return await self._forget(pid, inbound, record, loaded)
        if inbound.keyword is not None:
            turn = self._carrier_keyword(record, loaded, inbound)
            return await self._turns.commit(
                record, turn.messages, inbound.platform, inbound.conversation_id
            )
        if inbound.platform in self.texting and loaded.opted_out:
            # carriers' rule: nothing goes to a number that texted STOP until it texts START
            return await self._turns.commit(record, (), inbound.platform, inbound.conversation_id)
        if word == "unsubscribe":
            record.opted_out = True
        elif loaded.opted_out:
            record.opted_out = False  # writing again ends an opt-out
        if word == "no_replies":
            record.replies_withdrawn = True
        ongoing = ongoing_survey(loaded, self._surveys.surveys, record.now)
        lang = _language_of(loaded, inbound)
        if inbound.unreadable:  # nothing to answer with: ask again, leave the survey as it is
            turn = _Reply(Message(say(lang, UNREADABLE[inbound.unreadable])))
        elif word == "my_data":
            stored = await stored_data(
                self._store, self._surveys, pid, lang, accessible=loaded.accessible
            )
            turn = _Reply(Message(stored))
        elif ongoing is not None and not self._starts_another(*ongoing, inbound):
            turn = self._continue(record, loaded, *ongoing, inbound)
        elif word in ("unsubscribe", "no_replies"):
            turn = _Reply(Message(say(lang, "unsubscribed" if word == "unsubscribe" else word)))
        elif word == "accessible":  # in a survey, the engine switches it and asks again
            record.accessible = argument not in OFF_WORDS
            switched = Message(say(lang, f"accessible_{'on' if record.accessible else 'off'}"))
            turn = _Reply(switched, await self._no_survey_prompt(inbound.locale))  # offered again
        else:
            named = self._surveys.by_keyword(inbound.action or inbound.text)
            typed_command = word if inbound.action is None else command_of(inbound.text)
            if named is None and typed_command is None:
                written_back = await self._answer_back.of(record, inbound, lang)
                if written_back is not None:
                    staff = (written_back.to_staff,) if written_back.to_staff else ()
                    return await self._turns.commit(
                        record,
                        (written_back.to_person,),
                        inbound.platform,
                        inbound.conversation_id,
                        also=staff,
                    )
            turn = await self._begin(record, loaded, inbound, named)
        return await self._turns.commit(
            record, turn.messages, inbound.platform, inbound.conversation_id
        )

    def _carrier_keyword(self, record: TurnRecord, loaded: Loaded, inbound: Inbound) -> _Reply:
        """STOP ends every message to the person (and the survey they are in), START lets
        them come again, HELP says how this works, in the middle of a survey too."""
        lang = _language_of(loaded, inbound)
        ongoing = ongoing_survey(loaded, self._surveys.surveys, record.now)
        if inbound.keyword == "opt_out":
            record.opted_out = True
            record.replies_withdrawn = True  # staff may not write back either
            if ongoing is not None:
                self._continue(record, loaded, *ongoing, inbound._replace(text="unsubscribe"))
            return _Reply(Message(say(lang, "texting_stopped")))
        if inbound.keyword == "opt_in":
            record.opted_out = False
            return _Reply(Message(say(lang, "texting_started")))
        if ongoing is not None:
            helped = self._continue(record, loaded, *ongoing, inbound._replace(text="help"))
            return _Reply(Message(say(lang, "texting_help")), *helped.messages[1:])
        return _Reply(Message(say(lang, "texting_help")))

    async def _forget(
        self, pid: str, inbound: Inbound, record: TurnRecord, loaded: Loaded
    ) -> list[Outbound] | None:
        text = say(_language_of(loaded, inbound), "forgotten")
        erased = await self._store.erase_participant(
            pid,
            event_key=record.event_key,
            now=record.now,
            platform=inbound.platform,
            conversation_id=inbound.conversation_id,
            confirmation=Message(text).to_json(),
        )
        if erased is None:
            return None
        log.info("erased a participant's data on request: %d responses", erased.responses)
        return [
            Outbound(inbound.platform, inbound.conversation_id, Message(text), outbox_id=outbox_id)
            for outbox_id in erased.outbox_ids
        ]

    def _starts_another(self, survey: Survey, state: State, inbound: Inbound) -> bool:
        """Someone who stopped a survey may start another by its keyword."""
        if state.stage != "stopped":
            return False
        other = self._surveys.by_keyword(inbound.action or inbound.text)
        return other is not None and other.id != survey.id

    def _continue(
        self, record: TurnRecord, loaded: Loaded, survey: Survey, before: State, inbound: Inbound
    ) -> Turn:
        today = datetime.fromtimestamp(record.now, self._zone).date()
        return step_into(
            record,
            loaded.conversation,
            survey,
            before,
            inbound,
            today=today,
            accessible=loaded.accessible,
        )

    async def _begin(
        self, record: TurnRecord, loaded: Loaded, inbound: Inbound, survey: Survey | None
    ) -> Turn | _Reply:
        """No conversation in progress: the keyword of `survey` (if the message is one)
        starts one, anything else is told how."""
        lang = _language_of(loaded, inbound)
        run_id = None
        if survey is not None:
            run_id = await self._store.keyword_run(
                survey.id,
                now=record.now,
                opens_itself=survey.open,
                staff_channel=survey.staff_channel or self._staff_channel,
            )
        if survey is None or run_id is None:  # no such survey, or none open now
            prompt = await self._no_survey_prompt(inbound.locale)
            moved_on = self._moved_on(record, loaded)
            return _Reply(prompt) if moved_on is None else _Reply(moved_on, prompt)
        if not survey.repeat and await self._completed(record.pid, run_id, loaded):
            title = survey.title_in(lang)
            return _Reply(Message(say(lang, "already_answered", title=title)))
        turn = engine.start(survey, language=inbound.locale, accessible=loaded.accessible)
        record.run_id = run_id
        record.start_response = not survey.anonymous  # anonymous: at the first answer
        record.start_conversation = True
        record.anonymous = survey.anonymous
        record.state = turn.state.to_json()
        record.status = RESPONSE_STATUS["started"]
        record.channel = inbound.platform
        record.language = turn.state.language
        return turn

    def _moved_on(self, record: TurnRecord, loaded: Loaded) -> Message | None:
        """If the person's conversation expired, say so once: this turn ends it."""
        current = current_survey(loaded, self._surveys.surveys)
        conversation = loaded.conversation
        if (
            current is None
            or loaded.accessible
            or not expired(conversation, current[0], record.now)
        ):
            return None
        survey, state = current
        record.run_id = conversation.run_id
        record.response_id = conversation.response_id
        record.anonymous = survey.anonymous
        record.state = conversation.state
        record.finished = True
        record.status = "expired"
        return Message(say(state.language, "moved_on", title=survey.title_in(state.language)))

    async def _completed(self, pid: str, run_id: int, loaded: Loaded) -> bool:
        """Whether the person has completed the run already (one response each)."""
        if not loaded.known_participant:
            return False
        conversation = loaded.conversation
        if conversation is None or conversation.run_id != run_id:
            conversation = await self._store.conversation_in(pid, run_id)
        return conversation is not None and State.from_json(conversation.state).stage == "done"

    async def _no_survey_prompt(self, locale: str | None) -> Message:
        """Offer the surveys whose keyword works now, or say there is none."""
        lang = locale if locale and speaks(locale) else "en"
        everyone_runs = await self._store.keyword_surveys()
        open_ids = tuple(
            s.id
            for s in self._surveys.surveys.values()
            if s.keyword and everyone_runs.get(s.id, s.open)
        )
        prompt = self._prompts.get((lang, open_ids))
        if prompt is None:  # made once for each language and set of open surveys
            if len(self._prompts) >= KEPT_PROMPTS:
                self._prompts.clear()
            prompt = self._prompts[lang, open_ids] = self._prompt(lang, open_ids)
        return prompt

    def _prompt(self, lang: str, open_ids: tuple[str, ...]) -> Message:
        if not open_ids:
            return Message(say(lang, "no_survey"))
        open_surveys = sorted((self._surveys.surveys[i] for i in open_ids), key=lambda s: s.keyword)
        keywords = ", ".join(s.keyword for s in open_surveys)
        choices = tuple(Choice(s.title_in(lang), s.keyword) for s in open_surveys)
        return Message(say(lang, "open_surveys", keywords=keywords), choices, numbered=False)


KEPT_PROMPTS = 256  # (language, open surveys): a handful in use at any time
UNREADABLE = {"encrypted": "unreadable", "media": "media_only"}  # what the person is told


class _Reply:
    """An answer outside any survey; shaped like a Turn where it is used."""

    def __init__(self, *messages: Message) -> None:
        self.messages = messages


def _answers_again(ongoing: tuple[Survey, State] | None, inbound: Inbound) -> bool:
    """Whether an edit is a new try at the current question: it edits the person's last
    message, which the question did not take (it was asked again)."""
    if ongoing is None or inbound.edited != "latest":
        return False
    state = ongoing[1]
    return state.stage in ("consent", "question") and state.failures > 0


def _language_of(loaded: Loaded, inbound: Inbound) -> str:
    if loaded.conversation is not None:
        return State.from_json(loaded.conversation.state).language
    return inbound.locale if inbound.locale and speaks(inbound.locale) else "en"
