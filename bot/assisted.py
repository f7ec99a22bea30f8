"""`survey assist`: staff with the intermediary role type the answers of someone they
reached by phone, in person or on a home visit.

A session first asks how the person was reached and whether they agreed, then runs
the survey for a new respondent — never the intermediary's own conversation — whose
every answer is stored as given by an intermediary, the response keeping who typed it
and how the person was reached. The respondent has no address: nobody reaches them
through civicbot afterwards, and the intermediary cannot come back to them. `done`,
or the survey's end, closes the session for good; one session at a time.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import replace
from datetime import date

from bot.commands import Command
from bot.events import Inbound, Outbound
from bot.survey_files import SurveyCatalogue
from bot.turn_writer import RESPONSE_STATUS, TurnWriter, step_into
from conversations import assist, engine
from conversations.messages import command_of, say
from conversations.outgoing import Choice, Message
from conversations.state import State
from conversations.survey import Survey
from storage.contract import Storage
from storage.records import AssistSession, Loaded, TurnRecord

log = logging.getLogger(__name__)

CHANNEL = "assisted"  # the response's channel: what the person was reached through is `reached_by`


class AssistedSessions:
    def __init__(self, *, store: Storage, surveys: SurveyCatalogue, turns: TurnWriter) -> None:
        self._store = store
        self._surveys = surveys
        self._turns = turns

    async def is_open(self, inbound: Inbound) -> bool:
        """Whether the sender is typing someone's answers now."""
        pid = self._store.pseudonym(inbound.platform, inbound.user_id)
        return (await self._store.load(pid)).assist is not None

    async def command(self, command: Command, inbound: Inbound, *, now: float) -> str:
        """`survey assist SURVEY [in LANGUAGE]`: open a session in the conversation the
        command was typed in; what to answer besides the session's first question."""
        survey = self._surveys.named(command.survey)
        if survey is None:
            return self._surveys.no_such(command.survey)
        language = command.language or survey.default_language
        if language not in survey.languages:
            offered = ", ".join(survey.languages)
            return f"'{survey.id}' is not written in '{language}'; it is in {offered}."
        run_id = await self._open_run(survey, now)
        if run_id is None:
            return (
                f"'{survey.id}' has no open run to answer in: start one first "
                f"(survey start {survey.id} for everyone)."
            )
        intermediary = self._store.pseudonym(inbound.platform, inbound.user_id)
        async with self._turns.serial.hold(intermediary):
            opened = await self._open(
                intermediary=intermediary,
                survey=survey,
                run_id=run_id,
                language=language,
                where=(inbound.platform, inbound.conversation_id),
                event_key=f"{inbound.platform}:assist:{inbound.event_id}",
                now=now,
            )
            if isinstance(opened, str) or opened is None:
                return opened or ""
            sending = self._turns.send_after(intermediary, opened)
        await sending
        log.info("an assisted session of run %d opened", run_id)
        return ""

    async def _open_run(self, survey: Survey, now: float) -> int | None:
        """The survey's newest open run; for a survey open to everyone, one is made."""
        runs = [r for r in await self._store.runs() if r.survey_id == survey.id]
        open_runs = [r for r in runs if r.status == "open"]
        if open_runs:
            return max(open_runs, key=lambda r: r.created_at).id
        if not survey.open:
            return None
        return await self._store.keyword_run(
            survey.id, now=now, opens_itself=True, staff_channel=survey.staff_channel
        )

    async def _open(
        self,
        *,
        intermediary: str,
        survey: Survey,
        run_id: int,
        language: str,
        where: tuple[str, str],
        event_key: str,
        now: float,
    ) -> list[Outbound] | str | None:
        """Start a session: what to send the intermediary, or why not (one is open), or
        None if the command was seen before."""
        loaded = await self._store.load(intermediary)
        if loaded.assist is not None:
            title = self._title(loaded.assist.survey_id, loaded.assist.language)
            return say(language, "assist_busy", title=title)
        session = AssistSession(
            respondent="assisted-" + secrets.token_hex(16),
            survey_id=survey.id,
            run_id=run_id,
            language=language,
            stage="reached",
        )
        record = TurnRecord(event_key=event_key, pid=session.respondent, now=now, outbox=[])
        record.assist = (intermediary, session)
        asked = assist.reached_question(survey.title_in(language), language)
        return await self._turns.commit(record, (asked,), *where)

    async def turn(
        self, intermediary: str, loaded: Loaded, inbound: Inbound, record: TurnRecord, today: date
    ) -> list[Outbound] | None:
        """What the intermediary typed, in their open session: stored, and what to send."""
        session = loaded.assist
        assert session is not None
        record.pid = session.respondent
        record.new_participant = False
        record.address = None
        record.based_on = None
        where = (inbound.platform, inbound.conversation_id)
        lang = session.language
        survey = self._surveys.surveys.get(session.survey_id)
        if survey is None or assist.is_done(inbound.text):
            return await self._close(intermediary, session, record, where)
        if session.stage == "reached":
            mode = assist.reached_by(inbound.text, inbound.action)
            if mode is None:
                asked = assist.reached_question(survey.title_in(lang), lang)
                return await self._turns.commit(record, (asked,), *where)
            record.assist = (intermediary, replace(session, stage="agreed", reached_by=mode))
            return await self._turns.commit(record, (_agreement(lang),), *where)
        if session.stage == "agreed":
            return await self._agreement(intermediary, session, survey, record, inbound, where)
        if (command_of(inbound.text) or ("",))[0] in ("my_data", "forget_me"):
            said = Message(say(lang, "assist_own_data"))
            return await self._turns.commit(record, (said,), *where)
        respondent = await self._store.load(session.respondent)
        if respondent.conversation is None:  # gone: erased, or its run closed
            return await self._close(intermediary, session, record, where)
        before = State.from_json(respondent.conversation.state)
        typed = inbound._replace(platform=CHANNEL)
        turn = step_into(record, respondent.conversation, survey, before, typed, today=today)
        record.given_by = "intermediary"
        record.based_on = respondent.version
        if record.start_response:  # an anonymous survey's response begins now
            record.assisted = (intermediary, session.reached_by or "")
        said = turn.messages
        if turn.state.finished:
            record.assist = (intermediary, None)
            said += (Message(say(lang, "assist_closed", survey=survey.id)),)
        return await self._turns.commit(record, said, *where)

    async def _agreement(
        self,
        intermediary: str,
        session: AssistSession,
        survey: Survey,
        record: TurnRecord,
        inbound: Inbound,
        where: tuple[str, str],
    ) -> list[Outbound] | None:
        lang = session.language
        agreed = assist.agreed(inbound.action or inbound.text)
        if agreed is None:
            return await self._turns.commit(record, (_agreement(lang),), *where)
        if not agreed:
            record.assist = (intermediary, None)
            said = Message(say(lang, "assist_not_agreed"))
            return await self._turns.commit(record, (said,), *where)
        turn = engine.start(survey, language=lang)
        record.new_participant = True
        record.run_id = session.run_id
        record.start_response = not survey.anonymous  # anonymous: at the first answer
        record.start_conversation = True
        record.anonymous = survey.anonymous
        record.state = turn.state.to_json()
        record.status = RESPONSE_STATUS["started"]
        record.channel = CHANNEL
        record.language = turn.state.language
        record.assisted = (intermediary, session.reached_by or "")
        record.assist = (intermediary, replace(session, stage="answering"))
        said = (Message(say(lang, "assist_begins")), *turn.messages)
        return await self._turns.commit(record, said, *where)

    async def _close(
        self, intermediary: str, session: AssistSession, record: TurnRecord, where: tuple[str, str]
    ) -> list[Outbound] | None:
        """`done`: the session ends; a response left unfinished counts as stopped."""
        record.assist = (intermediary, None)
        respondent = await self._store.load(session.respondent)
        conversation = respondent.conversation
        if conversation is not None and not conversation.finished:
            state = State.from_json(conversation.state)
            record.run_id = conversation.run_id
            record.response_id = conversation.response_id
            record.state = replace(state, stage="stopped").to_json()
            record.finished = True
            record.status = RESPONSE_STATUS["stopped"] if conversation.response_id else None
        said = Message(say(session.language, "assist_closed", survey=session.survey_id))
        return await self._turns.commit(record, (said,), *where)

    def _title(self, survey_id: str, language: str) -> str:
        survey = self._surveys.surveys.get(survey_id)
        return survey.title_in(language) if survey else survey_id


def _agreement(language: str) -> Message:
    choices = (Choice(say(language, "yes"), "yes"), Choice(say(language, "no"), "no"))
    return Message(say(language, "assist_agreed"), choices)
