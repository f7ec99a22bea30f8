"""What the bot sends people unasked: invitations, reminders, and staff's replies to
them. Each is a turn of its own, stored and sent like any reply (bot/turn_writer.py),
after the person's earlier replies."""

from __future__ import annotations

from collections.abc import Callable

from bot.events import Outbound
from bot.metrics import Metrics
from bot.survey_files import SurveyCatalogue
from bot.turn_writer import RESPONSE_STATUS, TurnWriter, ongoing_survey
from conversations import engine
from conversations.state import Turn
from conversations.survey import Survey
from storage.contract import Storage
from storage.records import Loaded, TurnRecord


class Outreach:
    def __init__(
        self,
        *,
        store: Storage,
        surveys: SurveyCatalogue,
        turns: TurnWriter,
        clock: Callable[[], float],
        metrics: Metrics,
    ) -> None:
        self._store = store
        self._surveys = surveys
        self._turns = turns
        self._clock = clock
        self._metrics = metrics
        self._openings: dict[tuple[str, bool], tuple[Survey, Turn, str]] = {}

    async def invitable(self, *, platform: str, user_id: str, run_id: int | None) -> str:
        """What inviting the person would do now, without doing it: 'invited', 'already'
        (in this run), 'busy' (in another survey) or 'opted_out'."""
        pid = self._store.pseudonym(platform, user_id)
        return self._invitation_outcome(await self._store.load(pid), run_id, self._clock())

    def _invitation_outcome(self, loaded: Loaded, run_id: int | None, now: float) -> str:
        if loaded.opted_out:
            return "opted_out"
        taking_part = ongoing_survey(loaded, self._surveys.surveys, now)
        if taking_part is not None and loaded.conversation.run_id == run_id:
            return "already"
        if taking_part is not None and taking_part[1].stage != "stopped":
            return "busy"
        return "invited"

    async def invite(
        self,
        *,
        pid: str,
        platform: str,
        user_id: str,
        conversation_id: str,
        survey: Survey,
        run_id: int,
        wait: bool = True,
    ) -> str:
        """Open the survey in someone's direct conversation, consent first (`pid` is the
        pseudonym of `user_id` on `platform`). Returns what `invitable` says; only
        'invited' sends anything (inviting twice invites once). Returns once it is sent,
        or when not `wait`, once it is stored."""
        outcome = await self._invite(
            pid, (platform, user_id, conversation_id), survey, run_id, wait
        )
        self._metrics.invitations.inc(outcome)
        return outcome

    async def _invite(
        self, pid: str, address: tuple[str, str, str], survey: Survey, run_id: int, wait: bool
    ) -> str:
        async with self._turns.serial.hold(pid):
            invited = await self._turns.again_on_conflict(
                self._store_invitation, pid, address, survey, run_id
            )
            if isinstance(invited, str):
                return invited
            sending = self._turns.send_after(pid, invited)
        if wait:
            await sending
        return "invited"

    async def _store_invitation(
        self, pid: str, address: tuple[str, str, str], survey: Survey, run_id: int
    ) -> str | list[Outbound]:
        """The invitation stored, and what to send; or why there is none ('already' …)."""
        now = self._clock()
        loaded = await self._store.load(pid)
        outcome = self._invitation_outcome(loaded, run_id, now)
        if outcome != "invited":
            return outcome
        turn, state = self._opening(survey, loaded.accessible)
        record = TurnRecord(
            event_key=f"invite:{run_id}:{pid}",
            pid=pid,
            now=now,
            outbox=[],
            new_participant=not loaded.known_participant,
            # a wave's queue stored it already; a pid is one platform's one user id
            address=None if loaded.address == address[2] else address,
            run_id=run_id,
            start_response=not survey.anonymous,  # anonymous: at the first answer
            start_conversation=True,
            anonymous=survey.anonymous,
            state=state,
            status=RESPONSE_STATUS["started"],
            channel=address[0],
            language=turn.state.language,
            based_on=loaded.version,
        )
        stored = await self._turns.commit(record, turn.messages, address[0], address[2])
        return "already" if stored is None else stored

    def _opening(self, survey: Survey, accessible: bool) -> tuple[Turn, str]:
        """The survey's first turn and its state's JSON, the same for everyone of a wave
        with the same profile: made once per survey file as loaded."""
        cached = self._openings.get((survey.id, accessible))
        if cached is None or cached[0] is not survey:
            turn = engine.start(survey, accessible=accessible)
            cached = self._openings[survey.id, accessible] = (survey, turn, turn.state.to_json())
        return cached[1], cached[2]

    async def remind(
        self, *, pid: str, platform: str, conversation_id: str, run_id: int, text: str
    ) -> bool:
        """Nudge someone who has not finished; stored (and counted) and sent like any reply.
        True once it is stored: if the platform is down, the outbox sends it later."""
        now = self._clock()
        record = TurnRecord(
            event_key=f"remind:{pid}:{now}", pid=pid, now=now, outbox=[], run_id=run_id
        )
        record.reminded = True
        return await self._turns.deliver(record, text, platform, conversation_id)

    async def tell(
        self,
        *,
        pid: str,
        platform: str,
        conversation_id: str,
        text: str,
        event_key: str,
        thread: tuple[str, int] | None = None,
        follow_up_of: int | None = None,
    ) -> bool:
        """Send someone a message from staff (a reply to their answer), stored and sent
        like any reply, opening `thread` (reference, run id) for what they write back, or
        noting that they have had the follow-up of run `follow_up_of`.
        `event_key` names what asked for it: a command delivered twice sends it once,
        and the second time gives False."""
        record = TurnRecord(
            event_key=event_key, pid=pid, now=self._clock(), outbox=[], run_id=follow_up_of
        )
        record.opens_thread = thread
        record.told = follow_up_of is not None
        # a follow-up to thousands is stored at once and goes out at the platforms' pace
        wait = follow_up_of is None
        return await self._turns.deliver(record, text, platform, conversation_id, wait=wait)
