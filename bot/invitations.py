"""`survey start`: opening a run for everyone, or inviting an audience by name or channel,
with the guardrails a public service needs before it messages hundreds of people:

- `dry-run` says who would be invited, who skipped and why, and the exact first message
  in each of the survey's languages, and sends nothing;
- above `approval_above` recipients the command waits for a second coordinator's
  `survey approve N` (within `approval_within`);
- invitations and reminders share a cap per hour (`messages_per_hour`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import cast

from bot.commands import Audience, Command, audited
from bot.core import Bot
from bot.events import Adapter, Costing, Inbound, Inviting
from bot.scheduler import Clock
from bot.survey_files import SurveyCatalogue
from bot.turn_writer import merged
from conversations import engine
from conversations.messages import LANGUAGE_NAMES
from conversations.outgoing import Message, typed_text
from conversations.survey import Survey
from storage.contract import Storage

log = logging.getLogger(__name__)

QUEUE_CHUNK = 10_000  # people queued (addresses and queue rows) in one commit
SEND_CHUNK = 1_000  # invitations stored at once from the queue: a few group commits
OPENING_AT_ONCE = 50  # direct conversations being opened at once (a platform call each)
PROGRESS_SECONDS = 5.0  # between progress reports in a large wave
HELD_AT_MOST = 1_000_000  # numbers a held wave may hold
TEXTING = "sms"  # the platform that invites phone numbers
SKIPPED = {
    "busy": "in another survey now",
    "opted_out": "opted out of invitations",
    "already": "invited to this run before",
    "failed": "could not be reached",
}


@dataclass(frozen=True, slots=True)
class Guardrails:
    approval_above: int = 500  # recipients; more need a second coordinator
    approval_within: timedelta = timedelta(hours=1)
    messages_per_hour: int = 10_000  # invitations and reminders together


class HourlyBudget:
    """Invitations and reminders sent in the last hour, against the cap. Kept by this
    process: a restart starts a fresh hour."""

    def __init__(self, limit: int, clock: Clock) -> None:
        self.limit = limit
        self._clock = clock
        self._spent: deque[tuple[float, int]] = deque()

    def remaining(self) -> int:
        hour_ago = self._clock() - 3600
        while self._spent and self._spent[0][0] <= hour_ago:
            self._spent.popleft()
        return self.limit - sum(count for _, count in self._spent)

    def spend(self, count: int = 1) -> None:
        self._spent.append((self._clock(), count))

    def refills_at(self) -> str:
        """When some of the cap is free again, for telling a coordinator."""
        first = self._spent[0][0] if self._spent else self._clock()
        return datetime.fromtimestamp(first + 3600, UTC).strftime("%H:%M UTC")


class Invitations:
    def __init__(
        self,
        *,
        bot: Bot,
        store: Storage,
        surveys: SurveyCatalogue,
        adapters: dict[str, Adapter],
        tell: Callable[[Inbound, str], Awaitable[None]],
        guardrails: Guardrails,
        budget: HourlyBudget,
        clock: Clock,
    ) -> None:
        self._bot = bot
        self._store = store
        self._surveys = surveys
        self._adapters = adapters
        self._tell = tell
        self.guardrails = guardrails
        self.budget = budget  # shared with reminders and follow-ups
        self._clock = clock
        self._resuming: set[asyncio.Task[None]] = set()

    async def start(
        self,
        command: Command,
        inbound: Inbound,
        *,
        approved: bool = False,
        request: int | None = None,
    ) -> tuple[str, int | None]:
        """What to answer the coordinator, and the run started (None if none was);
        `request`: the approval that let it go ahead, whose numbers wait in the queue."""
        survey = self._surveys.named(command.survey)
        if survey is None:
            return self._surveys.no_such(command.survey), None
        if command.audience.kind == "open":
            return await self._open(survey, inbound, dry_run=command.dry_run)
        platform = TEXTING if command.audience.kind == "numbers" else inbound.platform
        adapter = self._adapters.get(platform)
        if adapter is None:
            return "Not started: text messages are not set up here (docs/sms.md).", None
        if not adapter.capabilities.invites:
            refusal = f"{platform} cannot invite people; use 'for everyone' and share the link."
            return refusal, None
        inviting = cast(Inviting, adapter)  # what `capabilities.invites` promises
        held = None  # a held wave's numbers, queued under its request
        if request is not None and command.audience.kind == "numbers":
            held = await self._held(request)
            people = [person for _, _, person, _ in held]
        else:
            people = await self._audience(inviting, command.audience)
        if isinstance(people, str):
            return people, None
        people = [p for p in dict.fromkeys(people) if p != inbound.user_id]
        described = command.audience.describe()
        if command.dry_run:
            return await self._dry_run(survey, people, adapter, described), None
        if len(people) > self.guardrails.approval_above and not approved:
            if command.audience.kind == "numbers":
                return await self._hold_numbers(inviting, inbound, command, people), None
            return await self.hold(inbound, len(people)), None
        if len(people) > (remaining := self.budget.remaining()):
            return (
                f"Not started: that is {len(people):,} invitations, and only {remaining:,} of "
                f"this hour's {self.budget.limit:,} messages are left. Try again after "
                f"{self.budget.refills_at()}, or invite fewer people.",
                None,
            )
        audience_text = _stored_audience(command.audience, people)
        run_id = await self._new_run(survey, audience_text, inbound)
        outcomes = await self._invite(inviting, inbound, platform, survey, run_id, people)
        if held is not None:  # now queued for the run
            await self._store.unqueue_invitations(-request, [pid for pid, *_ in held])
        counts = [f"invited {outcomes['invited']}"] + [
            f"{outcomes[why]} {SKIPPED[why]}, not invited"
            for why in ("busy", "opted_out")
            if outcomes[why]
        ]
        if outcomes["failed"]:
            counts.append(f"{outcomes['failed']} {SKIPPED['failed']}")
        told = (
            f"Run {run_id} of '{_title(survey)}' started for {described}: "
            f"{', '.join(counts)}. Digests go to this conversation."
        )
        if isinstance(adapter, Costing) and outcomes["invited"]:
            told += "\n" + adapter.cost(
                _first_message(survey, survey.default_language), outcomes["invited"]
            )
        return told, run_id

    async def _audience(self, inviting: Inviting, audience: Audience) -> list[str] | str:
        """The user ids of the audience, or what to answer when they cannot be had."""
        if audience.kind == "channel":
            try:
                return await inviting.channel_members(audience.names[0])
            except LookupError as error:
                return f"I cannot see the members of {audience.names[0]}: {error}"
        try:
            return await inviting.resolve_people(audience.names)
        except LookupError as error:
            return f"Not started: {error}."

    async def _open(
        self, survey: Survey, inbound: Inbound, *, dry_run: bool
    ) -> tuple[str, int | None]:
        title = _title(survey)
        if not survey.keyword:
            return (
                f"'{survey.id}' has no keyword, so nobody could start it alone. "
                f"Name who to invite: survey start {survey.id} for @person",
                None,
            )
        if dry_run:
            return (
                f"Dry run, nothing changed: '{title}' would open to everyone who types "
                f"'{survey.keyword}'. Nobody is messaged by opening it.",
                None,
            )
        channel = f"{inbound.platform}:{inbound.conversation_id}"
        existing = await self._store.everyone_run(survey.id)
        if existing and existing.status == "open" and not existing.staff_channel:
            await self._store.set_staff_channel(existing.id, channel)
            adopted = (
                f"Run {existing.id} of '{title}' was opened by someone typing "
                f"'{survey.keyword}'. Its digests now go to this conversation."
            )
            return adopted, existing.id
        if existing and existing.status == "open":
            return f"Run {existing.id} of '{title}' is already open for everyone.", None
        run_id = await self._new_run(survey, "open", inbound)
        told = (
            f"Run {run_id} of '{title}' started for everyone who types "
            f"'{survey.keyword}'. Digests go to this conversation."
        )
        return told, run_id

    async def _invite(
        self,
        inviting: Inviting,
        inbound: Inbound,
        platform: str,
        survey: Survey,
        run_id: int,
        people: list[str],
    ) -> Counter[str]:
        """Queue everyone (their addresses, many to a commit), then invite them from the
        queue: a restart halfway goes on where this stopped (`resume`)."""
        outcomes: Counter[str] = Counter()
        progress = Progress(partial(self._tell, inbound), run_id, len(people), time.monotonic)
        outcomes["failed"] = await self._queue(inviting, platform, run_id, people, progress)
        await self._drain(run_id, survey, outcomes, progress)
        return outcomes

    async def _queue(
        self,
        inviting: Inviting,
        platform: str,
        queue: int,
        people: list[str],
        progress: Progress | None = None,
    ) -> int:
        """Queue people under `queue` (a run, or minus a held request's number), their
        direct conversations opened, a chunk to a commit; how many could not be reached."""
        failed = 0
        for first in range(0, len(people), QUEUE_CHUNK):
            opened = await self._opened(inviting, people[first : first + QUEUE_CHUNK])
            failed += sum(direct is None for _, direct in opened)
            queued = [
                (self._store.pseudonym(platform, person), platform, person, direct)
                for person, direct in opened
                if direct is not None
            ]
            await self._store.queue_invitations(queue, queued, now=self._clock())
            if progress is not None:
                done = first + len(opened)
                await progress.tell("stored {done:,} of {total:,} invitations…", done)
        return failed

    async def resume(self) -> None:
        """Go on with the waves a stop interrupted, in the background."""
        for run_id in await self._store.waiting_waves():
            run = await self._store.run(run_id)
            survey = self._surveys.surveys.get(run.survey_id) if run else None
            if survey is None:
                continue
            log.info("going on with the queued invitations of run %d", run_id)
            task = asyncio.get_running_loop().create_task(
                self._drain(run_id, survey, Counter(), None)
            )
            self._resuming.add(task)
            task.add_done_callback(self._resuming.discard)

    async def resumed(self) -> None:
        """Wait until the waves `resume` went on with are through."""
        while self._resuming:
            await asyncio.gather(*list(self._resuming), return_exceptions=True)

    async def _opened(self, inviting: Inviting, people: list[str]) -> list[tuple[str, str | None]]:
        """Each person with their direct conversation, opened if need be (None: failed)."""
        at_once = asyncio.Semaphore(OPENING_AT_ONCE)

        async def opened(person: str) -> tuple[str, str | None]:
            async with at_once:
                try:
                    return person, await inviting.open_direct(person)
                except Exception:
                    log.exception("opening a direct conversation for an invitation failed")
                    return person, None

        return list(await asyncio.gather(*(opened(person) for person in people)))

    async def _drain(
        self, run_id: int, survey: Survey, outcomes: Counter[str], progress: Progress | None
    ) -> None:
        """Invite the run's queued people, a chunk at a time, their sends paced by their
        platforms. A chunk where storing failed stays queued for the next start."""
        done = 0
        while batch := await self._store.queued_invitations(run_id, most=SEND_CHUNK):
            found = await asyncio.gather(*(self._one(run_id, survey, *p) for p in batch))
            outcomes.update(found)
            self.budget.spend(found.count("invited"))
            await self._store.unqueue_invitations(
                run_id,
                [p[0] for p, outcome in zip(batch, found, strict=True) if outcome != "failed"],
            )
            done += len(batch)
            if "failed" in found:
                log.warning("run %d: invitations that could not be stored stay queued", run_id)
                return
            if progress is not None:
                await progress.tell("invited {done:,} of {total:,}…", done)

    async def _one(
        self, run_id: int, survey: Survey, pid: str, platform: str, person: str, direct: str
    ) -> str:
        try:
            return await self._bot.outreach.invite(
                pid=pid,
                platform=platform,
                user_id=person,
                conversation_id=direct,
                survey=survey,
                run_id=run_id,
                wait=False,
            )
        except Exception:
            log.exception("inviting someone to run %d failed", run_id)
            return "failed"

    async def _dry_run(
        self, survey: Survey, people: list[str], adapter: Adapter, described: str
    ) -> str:
        outcomes = Counter(
            [
                await self._bot.outreach.invitable(
                    platform=adapter.platform, user_id=p, run_id=None
                )
                for p in people
            ]
        )
        lines = [
            f"Dry run, nothing sent: '{_title(survey)}' for {described}.",
            f"Would invite {outcomes['invited']} of {len(people)}"
            + "".join(f"; {n} {SKIPPED[why]}" for why, n in outcomes.items() if why != "invited")
            + ".",
        ]
        if len(people) > self.guardrails.approval_above:
            lines.append(
                f"That is more than {self.guardrails.approval_above}: "
                "a second coordinator will have to approve it."
            )
        for language in survey.languages:
            name = LANGUAGE_NAMES.get(language, language)
            lines.append(f"What they get first, in {name}:")
            if isinstance(adapter, Costing):  # one text: its choices numbered in it
                first = _first_message(survey, language)
                lines.extend(f"  {line}" for line in typed_text(first).splitlines())
                lines.append("  " + adapter.cost(first, outcomes["invited"]))
                continue
            for message in merged(engine.start(survey, language=language).messages):
                lines.extend(f"  {line}" for line in message.text.splitlines())
                if message.choices:
                    lines.append("  [" + " | ".join(c.label for c in message.choices) + "]")
        return "\n".join(lines)

    async def hold(self, inbound: Inbound, audience: int) -> str:
        """Keep the command for a second coordinator's approval; what to answer."""
        return (await self._request(inbound, audience, inbound.text))[1]

    async def _request(self, inbound: Inbound, audience: int, kept: str) -> tuple[int, str]:
        """Keep the command as `kept` for a second coordinator; the request's number and
        what to answer."""
        request = await self._store.request_approval(
            now=self._clock(),
            platform=inbound.platform,
            user_id=inbound.user_id,
            conversation_id=inbound.conversation_id,
            command=kept,
            audience=audience,
        )
        within = int(self.guardrails.approval_within.total_seconds() // 60)
        return request, (
            f"Held, nothing sent: this would message {audience:,} people, more than "
            f"{self.guardrails.approval_above:,} without a second coordinator. Another "
            f"coordinator can type 'survey approve {request}' within {within} minutes to let "
            f"it go ahead ('{kept} dry-run' shows what people would get)."
        )

    async def _hold_numbers(
        self, inviting: Inviting, inbound: Inbound, command: Command, people: list[str]
    ) -> str:
        """Hold a wave of phone numbers: the request keeps the command with [number] in
        place of each, and the numbers wait as addresses in the wave's queue, under the
        request (-its number), where erasure and address retention reach them."""
        request, said = await self._request(inbound, len(people), audited(inbound.text, command))
        await self._queue(inviting, TEXTING, -request, people)
        return said

    async def _held(self, request: int) -> list[tuple[str, str, str, str]]:
        return await self._store.queued_invitations(-request, most=HELD_AT_MOST)

    async def _new_run(self, survey: Survey, audience: str, inbound: Inbound) -> int:
        return await self._store.create_run(
            survey_id=survey.id,
            audience=audience,
            staff_channel=f"{inbound.platform}:{inbound.conversation_id}",
            now=self._clock(),
        )


def _first_message(survey: Survey, language: str) -> Message:
    """What a person invited by text message gets first: the opening as one message."""
    return merged(engine.start(survey, language=language).messages, whole=True)[0]


def _stored_audience(audience: Audience, people: list[str]) -> str:
    if audience.kind == "channel":
        return f"channel:{audience.names[0]}"
    if audience.kind == "numbers":  # the numbers themselves live only in the address table
        return f"numbers:{len(people)}"
    return "users:" + ",".join(people)


def _title(survey: Survey) -> str:
    return survey.title[survey.default_language]


class Progress:
    """How far a large wave got, told every PROGRESS_SECONDS to who started it."""

    def __init__(
        self, tell: Callable[[str], Awaitable[None]], run_id: int, total: int, clock: Clock
    ) -> None:
        self._tell = tell
        self._run_id = run_id
        self._total = total
        self._clock = clock
        self._told_at = clock()

    async def tell(self, template: str, done: int) -> None:
        if done >= self._total or self._clock() - self._told_at < PROGRESS_SECONDS:
            return
        self._told_at = self._clock()
        said = template.format(done=done, total=self._total)
        await self._tell(f"Run {self._run_id}: {said}")
