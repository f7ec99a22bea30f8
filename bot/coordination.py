"""Coordinator commands: start, inspect, nudge, digest, export and close survey runs.

Only configured coordinators (`platform:user_id`, or `platform:team/user_id`) may
run them; everyone else gets a polite refusal. Every command, allowed or refused,
goes into the audit table. Replies go straight back to the conversation the
command came from.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import timedelta
from typing import cast

from bot import commands, digest, run_status
from bot.commands import Command, Unusable
from bot.core import Bot
from bot.digest_files import csv_file, digest_files
from bot.digest_schedules import DigestSchedules
from bot.events import Adapter, Attachment, Inbound, Inviting, Outbound
from bot.outbox import OutboxSender
from bot.reminders import MANUAL, QUIET_HOURS, QuietHours, Reminders, policy_of
from bot.run_status import when_local
from bot.scheduler import Clock, Scheduler
from bot.small_cells import protect
from bot.survey_files import SurveyCatalogue
from conversations.outgoing import Message
from conversations.survey import ReminderPolicy, Survey
from storage.contract import Storage
from storage.records import RunRow

log = logging.getLogger(__name__)

PROGRESS_EVERY = 100  # invitations between progress reports in a large wave
REFUSAL = "Sorry, survey commands are for coordinators. Ask whoever runs civicbot here to add you."


class Coordination:
    def __init__(
        self,
        *,
        bot: Bot,
        store: Storage,
        surveys: SurveyCatalogue,
        adapters: dict[str, Adapter],
        outbox: OutboxSender,
        coordinators: frozenset[str],
        scheduler: Scheduler,
        timezone: str = "UTC",
        quiet_hours: QuietHours | None = None,
        clock: Clock,
    ) -> None:
        self._bot = bot
        self._store = store
        self._surveys = surveys
        self._adapters = adapters
        self._outbox = outbox
        self._coordinators = coordinators
        self._clock = clock
        self.reminders = Reminders(
            bot=bot,
            store=store,
            surveys=surveys,
            quiet=quiet_hours or QuietHours.parse(QUIET_HOURS, timezone),
            clock=clock,
        )
        self.schedule = DigestSchedules(
            store=store,
            scheduler=scheduler,
            post=self._scheduled_digest,
            timezone=timezone,
            clock=clock,
        )

    async def start(self) -> None:
        """Register the stored digest schedules, catching up any missed while down."""
        await self.schedule.start()

    def _is_coordinator(self, inbound: Inbound) -> bool:
        """`platform:user`, or `platform:team/user` to allow the user only from that team
        (a Slack app installed in several workspaces). Never by channel."""
        names = {f"{inbound.platform}:{inbound.user_id}"}
        if inbound.workspace:
            names.add(f"{inbound.platform}:{inbound.workspace}/{inbound.user_id}")
        return not names.isdisjoint(self._coordinators)

    async def handle(self, inbound: Inbound) -> None:
        """Run one command and answer it; a failure is logged and told, never raised. A
        command delivered again (Slack retries a mention it got no answer to in time) is
        recognised by its event id and does nothing twice."""
        event_key = f"{inbound.platform}:command:{inbound.event_id}"
        if not await self._store.first_delivery(event_key, now=self._clock()):
            log.info("%s command event %s came again; done once already", *inbound.logged)
            return
        allowed = self._is_coordinator(inbound)
        attachment = None
        if not allowed:
            reply = REFUSAL
        else:
            parsed = commands.parse(inbound.text)
            try:
                if isinstance(parsed, Unusable):
                    reply = parsed.message
                else:
                    reply, attachment = await self._run(parsed, inbound)
            except Exception:
                log.exception("survey command %r failed", inbound.text)
                reply = "Something went wrong running that command; it has been logged."
        await self._store.audit(
            now=self._clock(),
            platform=inbound.platform,
            user_id=inbound.user_id,
            command=inbound.text[:500],
            allowed=allowed,
            outcome=reply.splitlines()[0][:200],
        )
        await self._tell(inbound, reply, attachment)

    async def _tell(
        self, inbound: Inbound, text: str, attachment: Attachment | None = None
    ) -> None:
        """Answer the coordinator where the command came from, for their eyes only."""
        answer = Outbound(
            inbound.platform,
            inbound.conversation_id,
            Message(text),
            attachment=attachment,
            visible_to=inbound.user_id,
        )
        try:
            await self._adapters[inbound.platform].send(answer)
        except Exception:
            log.exception("could not answer a survey command on %s", inbound.platform)

    async def _run(self, command: Command, inbound: Inbound) -> tuple[str, Attachment | None]:
        if command.name == "help":
            return commands.HELP, None
        if command.name == "unschedule":
            if await self.schedule.remove(command.schedule):
                return f"Schedule {command.schedule} removed.", None
            return f"There is no schedule {command.schedule}. 'survey status RUN' lists them.", None
        if command.name == "list":
            return await run_status.listing(self._store, self._surveys), None
        if command.name == "start":
            return await self._start(command, inbound), None
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
            rows = await self._store.run_rows(run.id)
            return csv_file(survey, run.id, rows, raw=command.raw)
        if command.name == "digest":
            return await self.post_digest(run, survey, fallback=inbound), None
        if command.name == "remind":
            return await self._remind(run, survey, command), None
        if command.name == "schedule":
            return await self._schedule(run, command.cron), None
        return await self._close(run), None

    async def _start(self, command: Command, inbound: Inbound) -> str:
        survey = self._surveys.surveys.get(command.survey) or self._surveys.by_keyword(
            command.survey
        )
        if survey is None:
            known = ", ".join(sorted(self._surveys.surveys)) or "none loaded"
            return f"There is no survey '{command.survey}'. Surveys: {known}."
        audience = command.audience
        channel = f"{inbound.platform}:{inbound.conversation_id}"
        title = survey.title[survey.default_language]
        if audience.kind == "open":
            if not survey.keyword:
                return (
                    f"'{survey.id}' has no keyword, so nobody could start it alone. "
                    f"Name who to invite: survey start {survey.id} for @person"
                )
            existing = await self._store.everyone_run(survey.id)
            if existing and existing.status == "open" and not existing.staff_channel:
                await self._store.set_staff_channel(existing.id, channel)
                return (
                    f"Run {existing.id} of '{title}' was opened by someone typing "
                    f"'{survey.keyword}'. Its digests now go to this conversation."
                )
            if existing and existing.status == "open":
                return f"Run {existing.id} of '{title}' is already open for everyone."
            run_id = await self._new_run(survey, "open", channel)
            return (
                f"Run {run_id} of '{title}' started for everyone who types "
                f"'{survey.keyword}'. Digests go to this conversation."
            )
        adapter = self._adapters[inbound.platform]
        if not adapter.capabilities.invites:
            return (
                f"{inbound.platform} cannot invite people; use 'for everyone' and share the link."
            )
        inviting = cast(Inviting, adapter)  # what `capabilities.invites` promises
        if audience.kind == "channel":
            try:
                people = await inviting.channel_members(audience.names[0])
            except LookupError as error:
                return f"I cannot see the members of {audience.names[0]}: {error}"
            audience_text = f"channel:{audience.names[0]}"
        else:
            people = [name.lstrip("@") for name in audience.names]
            audience_text = "users:" + ",".join(people)
        people = [p for p in dict.fromkeys(people) if p != inbound.user_id]
        run_id = await self._new_run(survey, audience_text, channel)
        outcomes: Counter[str] = Counter()
        for done, person in enumerate(people, start=1):
            try:
                direct = await inviting.open_direct(person)
                outcomes[
                    await self._bot.invite(
                        platform=inbound.platform,
                        user_id=person,
                        conversation_id=direct,
                        survey=survey,
                        run_id=run_id,
                    )
                ] += 1
            except Exception:
                log.exception("inviting someone to run %d failed", run_id)
                outcomes["failed"] += 1
            if done % PROGRESS_EVERY == 0 and done < len(people):
                await self._tell(inbound, f"Run {run_id}: invited {done:,} of {len(people):,}…")
        counts = [f"invited {outcomes['invited']}"]
        if outcomes["busy"]:
            counts.append(f"{outcomes['busy']} in another survey now, not invited")
        if outcomes["opted_out"]:
            counts.append(f"{outcomes['opted_out']} opted out of invitations, not invited")
        if outcomes["failed"]:
            counts.append(f"{outcomes['failed']} could not be reached")
        return (
            f"Run {run_id} of '{title}' started for {audience.describe()}: "
            f"{', '.join(counts)}. Digests go to this conversation."
        )

    async def _new_run(self, survey: Survey, audience: str, channel: str) -> int:
        return await self._store.create_run(
            survey_id=survey.id,
            audience=audience,
            staff_channel=channel,
            now=self._clock(),
        )

    async def _schedule(self, run: RunRow, cron: str) -> str:
        if not run.staff_channel:
            return (
                f"Run {run.id} has no staff channel for its digests: someone opened it by "
                f"typing its keyword. Type 'survey start {run.survey_id} for everyone' in the "
                "channel where its digests should go, then schedule it."
            )
        try:
            schedule = await self.schedule.add(run.id, cron)
        except ValueError as error:
            return (
                f"'{cron}' is not a cron time I can use ({error}). Five fields: minute hour "
                "day month weekday, e.g. '0 9 * * mon' for Mondays at 9:00."
            )
        return (
            f"Schedule {schedule.id}: the digest of run {run.id} at '{cron}' "
            f"({schedule.timezone}), next {when_local(self.schedule.next_time(schedule.id))}."
        )

    async def _scheduled_digest(self, run_id: int) -> str:
        run = await self._store.run(run_id)
        survey = self._surveys.surveys.get(run.survey_id) if run else None
        if run is None or survey is None:
            return f"run {run_id} or its survey is gone"
        if not run.staff_channel:  # scheduled before runs without one were refused
            log.warning("the scheduled digest of run %d has no staff channel to go to", run_id)
            return f"run {run_id} has no staff channel"
        return await self.post_digest(run, survey)

    async def post_digest(
        self, run: RunRow, survey: Survey, *, fallback: Inbound | None = None
    ) -> str:
        """Post the run's digest to its staff channel and move its watermark."""
        now = self._clock()
        rows = await self._store.run_rows(run.id)
        built = protect(
            digest.build(
                survey=survey,
                run_id=run.id,
                responses=[digest.ResponseRow(*r) for r in rows.responses],
                answers=[digest.AnswerRow(*a) for a in rows.answers],
                since=rows.last_digest,
                until=now,
            ),
            survey.min_group_size,
        )
        text = digest.render_text(built)
        if run.staff_channel:
            platform, channel = run.staff_channel.split(":", 1)
        else:
            platform, channel = fallback.platform, fallback.conversation_id
        outbox_id = await self._store.post_digest(
            run_id=run.id,
            covered_until=now,
            now=now,
            platform=platform,
            channel=channel,
            body=Message(text).to_json(),
        )
        sent = await self._outbox.send(
            [Outbound(platform, channel, Message(text), outbox_id=outbox_id)]
        )
        if not sent:
            return (
                f"The digest of run {run.id} could not be posted to its channel yet (is it "
                "archived, or is civicbot not in it?). It is kept and will be sent again."
            )
        told = f"Digest of run {run.id} posted: {built.new_completed} new completed responses."
        uploads = self._adapters[platform].capabilities.file_upload
        files = await digest_files(survey, built, rows) if uploads else []
        for caption, attachment in files:
            try:
                await self._adapters[platform].send(
                    Outbound(platform, channel, Message(caption), attachment=attachment)
                )
            except Exception:
                log.exception("uploading %s for run %d failed", attachment.filename, run.id)
                told += f" {attachment.filename} could not be uploaded; try again later."
        return told

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
        if self.reminders.quiet.contain(self._clock()):
            return (
                f"It is quiet hours ({self.reminders.quiet.describe()}): nobody is reminded "
                "now. Try again after they end."
            )
        policy = policy_of(run, survey) or MANUAL
        reminded, skipped = await self.reminders.send(run, survey, policy)
        waiting = reminded + sum(skipped.values())
        told = f"Reminded {reminded} of {waiting} people who have not finished run {run.id}."
        if skipped:
            told += " Not reminded: " + "; ".join(f"{n} {why}" for why, n in skipped.items()) + "."
        return told

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

    async def _close(self, run: RunRow) -> str:
        if run.status == "closed":
            return f"Run {run.id} is already closed."
        await self._store.close_run(run.id, now=self._clock())
        return (
            f"Run {run.id} closed: {run.responses} responses, {run.completed} completed. "
            "It takes no more answers; 'survey digest' and 'survey export' still work."
        )


def _policy(policy: ReminderPolicy) -> str:
    times = "once" if policy.at_most == 1 else f"{policy.at_most} times"
    return f"after {_length(policy.after)} without an answer, at most {times}"


def _length(length: timedelta) -> str:
    hours = length.total_seconds() / 3600
    if hours % 24:
        return f"{hours:g} hours"
    return f"{hours / 24:g} days" if hours != 24 else "1 day"
