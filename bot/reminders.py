"""Reminders: who may be nudged about a survey they have not finished, and when.

Only people still on their way through a run are reminded (not finished, stopped,
expired or opted out: storage's `in_progress`), never in quiet hours, each at most
once per interval and at most so many times. A run's policy (`survey remind RUN
after 2 days, at most 2 times`, or the survey file's `remind:`) also sends them by
itself: the scheduler looks every hour. A coordinator's `survey remind RUN` obeys the
same rules, with the run's policy or else MANUAL.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.core import Bot
from bot.invitations import HourlyBudget
from bot.scheduler import Clock
from bot.survey_files import SurveyCatalogue
from conversations.messages import LANGUAGE_NAMES, say
from conversations.state import State
from conversations.survey import ReminderPolicy, Survey
from storage.contract import Storage
from storage.records import Reachable, RunRow

log = logging.getLogger(__name__)

REMIND_EVERY = 3600.0  # seconds between looks for reminders that are due
MANUAL = ReminderPolicy(after=timedelta(days=1), at_most=3)
QUIET_HOURS = "20:00-08:00"  # unless civicbot.toml says otherwise


@dataclass(frozen=True, slots=True)
class QuietHours:
    """A time of day when nobody is messaged unasked, e.g. 20:00 to 08:00 in the zone."""

    start: time
    end: time
    zone: ZoneInfo

    @classmethod
    def parse(cls, text: str, zone: str) -> QuietHours:
        """'20:00-08:00' (or 'off' for none) in the configured time zone."""
        if text.strip().lower() == "off":
            return cls(time(0), time(0), ZoneInfo(zone))
        try:
            start, end = (time.fromisoformat(part.strip()) for part in text.split("-"))
        except ValueError:
            raise ValueError(f"'{text}' is not a time span such as '20:00-08:00'") from None
        return cls(start, end, ZoneInfo(zone))

    def contain(self, moment: float) -> bool:
        local = datetime.fromtimestamp(moment, UTC).astimezone(self.zone).time()
        if self.start <= self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end  # across midnight

    def describe(self) -> str:
        return f"{self.start:%H:%M}–{self.end:%H:%M} {self.zone.key}"


def _reminder(survey: Survey, language: str) -> str:
    return say(language, "reminder", title=survey.title_in(language))


def policy_of(run: RunRow, survey: Survey) -> ReminderPolicy | None:
    """The run's own policy, else its survey's; None: reminders only when asked."""
    if run.remind_after is not None:
        return ReminderPolicy(after=timedelta(seconds=run.remind_after), at_most=run.remind_at_most)
    return survey.remind


def due(person: Reachable, policy: ReminderPolicy, now: float) -> str | None:
    """Why the person is not to be reminded now, or None if they are."""
    if person.reminders >= policy.at_most:
        return "reminded as often as the run allows"
    last_heard = max(person.updated_at, person.reminded_at or 0.0)
    if now - last_heard < policy.after.total_seconds():
        return "answered or were reminded too recently"
    return None


class Reminders:
    def __init__(
        self,
        *,
        bot: Bot,
        store: Storage,
        surveys: SurveyCatalogue,
        quiet: QuietHours,
        budget: HourlyBudget,
        clock: Clock,
    ) -> None:
        self._budget = budget
        self._bot = bot
        self._store = store
        self._surveys = surveys
        self.quiet = quiet
        self._clock = clock

    async def send(
        self, run: RunRow, survey: Survey, policy: ReminderPolicy
    ) -> tuple[int, Counter[str]]:
        """Remind whoever is due, within this hour's cap; how many were, and why the
        others were not."""
        reminded = 0
        due_now, skipped = await self._due(run, survey, policy)
        for person in due_now:
            if self._budget.remaining() <= 0:
                skipped["over this hour's cap on messages (they are reminded later)"] += 1
                continue
            language = State.from_json(person.state).language
            queued = await self._bot.outreach.remind(
                pid=person.pid,
                platform=person.platform,
                conversation_id=person.conversation_id,
                run_id=run.id,
                text=_reminder(survey, language),
            )
            if queued:
                self._budget.spend()
                reminded += 1
        return reminded, skipped

    async def preview(self, run: RunRow, survey: Survey, policy: ReminderPolicy) -> str:
        """What `send` would do now, sending nothing."""
        due_now, skipped = await self._due(run, survey, policy)
        lines = [
            f"Dry run, nothing sent: would remind {len(due_now)} of "
            f"{len(due_now) + sum(skipped.values())} people who have not finished run {run.id}"
            + "".join(f"; {n} {why}" for why, n in skipped.items())
            + "."
        ]
        if self.quiet.contain(self._clock()):
            lines.append(f"It is quiet hours ({self.quiet.describe()}): none would go now.")
        for language in survey.languages:
            name = LANGUAGE_NAMES.get(language, language)
            lines.append(f"In {name}: {_reminder(survey, language)}")
        return "\n".join(lines)

    async def _due(
        self, run: RunRow, survey: Survey, policy: ReminderPolicy
    ) -> tuple[list[Reachable], Counter[str]]:
        now = self._clock()
        active_since = now - survey.expires_after.total_seconds()
        due_now: list[Reachable] = []
        skipped: Counter[str] = Counter()
        for person in await self._store.in_progress(run.id, active_since=active_since):
            reason = due(person, policy, now)
            if reason is None:
                due_now.append(person)
            else:
                skipped[reason] += 1
        return due_now, skipped

    async def send_due(self) -> None:
        """The hourly look: every open run with a policy reminds whoever is due."""
        if self.quiet.contain(self._clock()):
            return
        for run in await self._store.runs():
            survey = self._surveys.surveys.get(run.survey_id)
            policy = policy_of(run, survey) if survey and run.status == "open" else None
            if policy is not None:
                reminded, _ = await self.send(run, survey, policy)
                if reminded:
                    log.info("reminded %d people of run %d", reminded, run.id)
