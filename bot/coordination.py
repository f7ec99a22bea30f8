"""Coordinator commands: start, inspect, nudge, digest, export and close survey runs.

Only staff may run them, each as their role allows (bot/roles.py); everyone else
gets a polite refusal. Every command, allowed or refused, goes into the audit
table, with the run it was about. Replies go straight back to the conversation the
command came from.
"""

from __future__ import annotations

import logging
from datetime import datetime, time
from zoneinfo import ZoneInfo

from bot import commands, run_status
from bot.answers import Answers
from bot.commands import Command, Unusable
from bot.core import Bot
from bot.digest_posting import DigestNotPosted, DigestPosting
from bot.digest_schedules import DigestSchedules
from bot.events import Adapter, Attachment, Inbound
from bot.export import export_file
from bot.follow_up import OF_A_RUN, FollowUp
from bot.invitations import Guardrails, HourlyBudget, Invitations
from bot.metrics import Metrics
from bot.outbox import OutboxSender
from bot.reminders import MANUAL, QuietHours, Reminders, policy_of
from bot.roles import Staff, may, names_of, needed
from bot.run_schedules import RunSchedules
from bot.run_status import length, when_local
from bot.scheduler import Clock, Scheduler
from bot.survey_files import SurveyCatalogue
from conversations.outgoing import Message
from conversations.survey import ReminderPolicy, Survey
from storage.contract import Storage
from storage.records import RunRow

log = logging.getLogger(__name__)

AUDIT_LINES = 50  # entries `survey audit` shows at most: narrow by run or date for more
REFUSAL = "Sorry, survey commands are for staff. Ask whoever runs civicbot here to add you."


class Coordination:
    def __init__(
        self,
        *,
        bot: Bot,
        store: Storage,
        surveys: SurveyCatalogue,
        adapters: dict[str, Adapter],
        outbox: OutboxSender,
        staff: Staff,
        scheduler: Scheduler,
        timezone: str = "UTC",
        quiet_hours: QuietHours,
        guardrails: Guardrails | None = None,
        staff_language: str = "en",
        metrics: Metrics | None = None,
        clock: Clock,
    ) -> None:
        self._store = store
        self._surveys = surveys
        self._adapters = adapters
        self._staff = staff
        self.signed_in_platforms: set[str] = set()  # platforms whose staff sign in by account
        self._clock = clock
        self._answers = Answers(adapters, clock)
        self._staff_language = staff_language
        self._tell = self._answers.tell
        self._assisted = bot.assisted
        self._dispatch = bot.dispatch
        self._zone = ZoneInfo(timezone)
        guardrails = guardrails or Guardrails()
        budget = HourlyBudget(guardrails.messages_per_hour, clock)
        self.invitations = Invitations(
            bot=bot,
            store=store,
            surveys=surveys,
            adapters=adapters,
            tell=self._tell,
            guardrails=guardrails,
            budget=budget,
            clock=clock,
        )
        self.reminders = Reminders(
            bot=bot,
            store=store,
            surveys=surveys,
            quiet=quiet_hours,
            budget=budget,
            clock=clock,
        )
        self.starts = RunSchedules(
            store=store,
            scheduler=scheduler,
            start_run=self.invitations.start,
            tell=self._tell,
            timezone=timezone,
            clock=clock,
        )
        self.digests = DigestPosting(
            store=store,
            surveys=surveys,
            adapters=adapters,
            outbox=outbox,
            clock=clock,
            timezone=timezone,
            staff_language=staff_language,
            metrics=metrics,
        )
        self.follow_up = FollowUp(
            bot=bot, store=store, surveys=surveys, clock=clock, invitations=self.invitations
        )
        self.schedule = DigestSchedules(
            store=store,
            scheduler=scheduler,
            post=self.digests.scheduled,
            tell=self._answers.tell_maker,
            timezone=timezone,
            clock=clock,
        )

    async def start(self) -> None:
        """Register the stored digest schedules and scheduled starts, catching up any
        missed while down."""
        await self.schedule.start()
        await self.starts.start()
        await self.invitations.resume()

    async def handle(self, inbound: Inbound) -> None:
        """Run one command and answer it; a failure is logged and told, never raised. A
        command delivered again (Slack retries a mention it got no answer to in time) is
        recognised by its event id and does nothing twice."""
        event_key = f"{inbound.platform}:command:{inbound.event_id}"
        if not await self._store.first_delivery(event_key, now=self._clock()):
            log.info("%s command event %s came again; done once already", *inbound.logged)
            return
        names = names_of(inbound)
        attachment, run_id = None, None
        account = await self._account_roles(inbound)
        allowed = self._staff.is_staff(names) or bool(account)
        parsed = commands.parse(inbound.text)
        if allowed and isinstance(parsed, Unusable) and await self._assisted.is_open(inbound):
            # the staff page sends everything as commands: a session takes what is none
            delivery = await self._dispatch(inbound._replace(is_direct=True, command=False))
            await delivery
            return
        if not allowed:
            reply = REFUSAL
        else:
            try:
                if isinstance(parsed, Unusable):
                    reply = parsed.message
                else:
                    survey_id, run_id = await self._scope(parsed)
                    roles = self._staff.roles_of(names, survey_id) | account
                    allowed = may(parsed, roles)
                    if not allowed:
                        reply = _needs_role(parsed, roles)
                    elif parsed.name in ("start", "approve"):  # these make a run
                        reply, run_id = await self._starting(parsed, inbound)
                    elif parsed.name == "assist":
                        reply = await self._assisted.command(parsed, inbound, now=self._clock())
                    else:
                        reply, attachment = await self._run(parsed, inbound)
            except Exception:
                name = "" if isinstance(parsed, Unusable) else parsed.name
                log.exception("a survey %s command failed", name)
                reply = "Something went wrong running that command; it has been logged."
        await self._store.audit(
            now=self._clock(),
            platform=inbound.platform,
            user_id=inbound.user_id,
            command=commands.audited(inbound.text, parsed),
            allowed=allowed,
            outcome=_outcome(reply),
            run_id=run_id,
        )
        if reply:  # an assisted session's opening question went already
            await self._tell(inbound, reply, attachment)

    async def _account_roles(self, inbound: Inbound) -> frozenset[str]:
        """The role of a staff account signed in on a platform's staff page (civicbot
        staff add), read at every command so that revoking it takes effect at once."""
        if inbound.platform not in self.signed_in_platforms:
            return frozenset()
        account = await self._store.staff_account(name=inbound.user_id)
        return frozenset({account.role}) if account else frozenset()

    async def _scope(self, command: Command) -> tuple[str | None, int | None]:
        """The survey and run a command is about, where it names one: roles may be
        granted for one survey, and the audit is kept by run."""
        if command.name in ("start", "assist"):
            survey = self._surveys.named(command.survey)
            return (survey.id if survey else None), None
        run_id = command.run
        if command.name == "unschedule" and not command.starts:
            schedules = await self._store.schedules()
            run_id = next((s.run_id for s in schedules if s.id == command.schedule), None)
        run = await self._store.run(run_id) if run_id is not None else None
        return (run.survey_id, run.id) if run else (None, None)

    async def _run(
        self, command: Command, inbound: Inbound
    ) -> tuple[str | Message, Attachment | None]:
        if command.name == "help":
            return commands.help_text(self._staff_language), None
        if command.name == "unschedule" and command.starts:
            if await self.starts.remove(command.schedule):
                return f"Scheduled start S{command.schedule} removed.", None
            return (
                f"There is no scheduled start S{command.schedule}. 'survey list' lists them.",
                None,
            )
        if command.name == "unschedule":
            if await self.schedule.remove(command.schedule):
                return f"Schedule {command.schedule} removed.", None
            return f"There is no schedule {command.schedule}. 'survey status RUN' lists them.", None
        if command.name == "list":
            listed = await run_status.listing(self._store, self._surveys)
            return "\n".join([listed, *await self.starts.listed()]), None
        if command.name == "audit":
            return await self._audit(command), None
        if command.name == "reply":
            return await self.follow_up.reply(command, inbound), None
        run = await self._store.run(command.run)
        if run is None:
            return f"There is no run {command.run}. 'survey list' shows the runs.", None
        survey = self._surveys.surveys.get(run.survey_id)
        if survey is None:
            return f"Run {run.id}'s survey '{run.survey_id}' is not loaded any more.", None
        if command.name == "status":
            return await run_status.status(
                self._store, run, survey, await self._status_extras(run, survey)
            ), None
        if command.name == "export":

            async def progress(done: int, total: int) -> None:
                await self._tell(inbound, f"Run {run.id}: exported {done:,} of {total:,}…")

            return await export_file(
                self._store, survey, run.id, raw=command.raw, progress=progress
            )
        if command.name in OF_A_RUN:
            return await self.follow_up.of_run(command, run, survey, inbound), None
        if command.name == "digest":
            try:
                return await self.digests.post(run, survey, fallback=inbound), None
            except DigestNotPosted as failure:
                return str(failure), None
        if command.name == "remind":
            return await self._remind(run, survey, command), None
        if command.name == "schedule":
            return await self._schedule(run, command.cron, inbound), None
        return await self._close(run, command), None

    async def _starting(self, command: Command, inbound: Inbound) -> tuple[str, int | None]:
        """`start`, or `approve` of a held start: what to answer, and the run it made."""
        timed = command.at or command.every or command.until
        if command.name == "start" and timed and not command.dry_run:
            return await self.starts.handle(command, inbound)
        if command.name == "start":
            return await self.invitations.start(command, inbound)
        return await self._approve(command, inbound)

    async def _approve(self, command: Command, inbound: Inbound) -> tuple[str, int | None]:
        """A second coordinator lets a held command go ahead, as its first one typed it."""
        request = await self._store.approval(command.request)
        if request is None:
            return f"There is no request {command.request}.", None
        if request.approved_at is not None:
            return f"Request {request.id} was approved already, by {request.approved_by}.", None
        if (request.platform, request.user_id) == (inbound.platform, inbound.user_id):
            refusal = f"Request {request.id} needs a second coordinator: you asked for it yourself."
            return refusal, None
        within = self.invitations.guardrails.approval_within.total_seconds()
        if self._clock() - request.requested_at > within:
            return f"Request {request.id} has expired; ask for it again.", None
        approver = f"{inbound.platform}:{inbound.user_id}"
        if not await self._store.approve(request.id, by=approver, now=self._clock()):
            return f"Request {request.id} was approved already.", None
        held = commands.parse(request.command)
        if not isinstance(held, Command) or held.name not in ("start", "tell"):  # what is held
            return f"Request {request.id} cannot be run: '{request.command}'.", None
        asker = Inbound.command_as(
            platform=request.platform,
            user_id=request.user_id,
            conversation_id=request.conversation_id,
            text=request.command,
            event_id=f"approval:{request.id}",
            now=self._clock(),
        )
        if held.name == "tell":
            outcome, run_id = await self._approved_tell(held, asker), held.run
        else:
            outcome, run_id = await self.invitations.start(
                held, asker, approved=True, request=request.id
            )
        await self._tell(asker, f"{approver} approved request {request.id}. {outcome}")
        return f"Request {request.id} approved. {outcome}", run_id

    async def _approved_tell(self, held: Command, asker: Inbound) -> str:
        run = await self._store.run(held.run)
        survey = self._surveys.surveys.get(run.survey_id) if run else None
        if run is None or survey is None:
            return f"Run {held.run} or its survey is gone."
        return await self.follow_up.of_run(held, run, survey, asker, approved=True)

    async def _schedule(self, run: RunRow, cron: str, inbound: Inbound) -> str:
        if not run.staff_channel:
            return (
                f"Run {run.id} has no staff channel for its digests: someone opened it by "
                f"typing its keyword. Type 'survey start {run.survey_id} for everyone' in the "
                "channel where its digests should go, then schedule it."
            )
        try:
            schedule = await self.schedule.add(
                run.id,
                cron,
                made_by=f"{inbound.platform}:{inbound.user_id}",
                made_in=f"{inbound.platform}:{inbound.conversation_id}",
            )
        except ValueError as error:
            return (
                f"'{cron}' is not a cron time I can use ({error}). Five fields: minute hour "
                "day month weekday, e.g. '0 9 * * mon' for Mondays at 9:00."
            )
        return (
            f"Schedule {schedule.id}: the digest of run {run.id} at '{cron}' "
            f"({schedule.timezone}), next {when_local(self.schedule.next_time(schedule.id))}."
        )

    async def _remind(self, run: RunRow, survey: Survey, command: Command) -> str:
        if run.status == "closed":
            return f"Run {run.id} is closed; there is nobody to remind."
        if command.reminders == "off":
            await self._store.set_reminder_policy(run.id, after=None, at_most=None)
            fallback = survey.remind
            if fallback is None:
                return f"Run {run.id} sends no reminders by itself any more."
            return f"Run {run.id} is back to its survey's reminders: {_policy(fallback)}."
        if command.reminders is not None:
            policy = command.reminders
            await self._store.set_reminder_policy(
                run.id, after=policy.after.total_seconds(), at_most=policy.at_most
            )
            return (
                f"Run {run.id} reminds by itself everyone who has not finished: "
                f"{_policy(policy)}, never in quiet hours ({self.reminders.quiet.describe()})."
            )
        policy = policy_of(run, survey) or MANUAL
        if command.dry_run:
            return await self.reminders.preview(run, survey, policy)
        if self.reminders.quiet.contain(self._clock()):
            return (
                f"It is quiet hours ({self.reminders.quiet.describe()}): nobody is reminded "
                "now. Try again after they end."
            )
        reminded, skipped = await self.reminders.send(run, survey, policy)
        waiting = reminded + sum(skipped.values())
        told = f"Reminded {reminded} of {waiting} people who have not finished run {run.id}."
        if skipped:
            told += " Not reminded: " + "; ".join(f"{n} {why}" for why, n in skipped.items()) + "."
        return told

    async def _audit(self, command: Command) -> str:
        """Who did what, newest last: staff commands and civicbot's own deletions."""
        since = None
        if command.since is not None:
            since = datetime.combine(command.since, time(0), self._zone).timestamp()
        entries = await self._store.audit_entries(
            run_id=command.run, since=since, limit=AUDIT_LINES
        )
        about = (f" of run {command.run}" if command.run else "") + (
            f" since {command.since}" if command.since else ""
        )
        if not entries:
            return f"Nothing in the audit{about}."
        lines = [f"The audit{about}, the newest {len(entries)} entries (at most {AUDIT_LINES}):"]
        for entry in entries:
            moment = datetime.fromtimestamp(entry.at, self._zone).strftime("%Y-%m-%d %H:%M")
            refused = " REFUSED" if not entry.allowed else ""
            lines.append(
                f"  {moment} {entry.platform}:{entry.user_id}{refused}: {entry.command}"
                f" → {entry.outcome}"
            )
        return "\n".join(lines)

    async def _status_extras(self, run: RunRow, survey: Survey) -> list[str]:
        """What `survey status` says of the run's reminders and digest schedules."""
        policy = policy_of(run, survey)
        lines = [f"Reminders: {_policy(policy)}." if policy else "Reminders: only when asked."]
        for schedule in await self._store.schedules(run.id):
            lines.append(
                f"Schedule {schedule.id}: digest at '{schedule.cron}' ({schedule.timezone}),"
                f" next {when_local(self.schedule.next_time(schedule.id))}."
            )
        return lines

    async def _close(self, run: RunRow, command: Command) -> str:
        if run.status == "closed":
            return f"Run {run.id} is already closed."
        if command.until is not None:
            closes = command.until.replace(tzinfo=self._zone).timestamp()
            if closes <= self._clock():
                return f"{self.starts.shown(closes)} has passed; give a time to come."
            await self._store.set_closing(run.id, at=closes)
            return f"Run {run.id} closes by itself at {self.starts.shown(closes)}."
        if not await self._store.close_run(run.id, now=self._clock()):
            return f"Run {run.id} is already closed."  # someone closed it meanwhile
        return (
            f"Run {run.id} closed: {run.responses} responses, {run.completed} completed. "
            "It takes no more answers; 'survey digest' and 'survey export' still work."
        )


def _outcome(reply: str | Message) -> str:
    """What the audit log keeps of the answer: its first line."""
    text = reply.text if isinstance(reply, Message) else reply
    return (text.splitlines() or ["an assisted session opened"])[0][:200]


def _needs_role(command: Command, roles: frozenset[str]) -> str:
    held = ", ".join(sorted(roles)) or "no role for this survey"
    return f"Sorry, 'survey {command.name}' needs the {needed(command)} role; you have: {held}."


def _policy(policy: ReminderPolicy) -> str:
    times = "once" if policy.at_most == 1 else f"{policy.at_most} times"
    return f"after {length(policy.after.total_seconds())} without an answer, at most {times}"
