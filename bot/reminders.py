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
from bot.scheduler import Clock
from bot.survey_files import SurveyCatalogue
from conversations.engine import State
from conversations.messages import say
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
        clock: Clock,
    ) -> None:
        self._bot = bot
        self._store = store
        self._surveys = surveys
        self.quiet = quiet
        self._clock = clock

    async def send(
        self, run: RunRow, survey: Survey, policy: ReminderPolicy
    ) -> tuple[int, Counter[str]]:
        """Remind whoever is due; how many were, and why the others were not."""
        now = self._clock()
        active_since = now - survey.expires_after.total_seconds()
        skipped: Counter[str] = Counter()
        reminded = 0
        for person in await self._store.in_progress(run.id, active_since=active_since):
            reason = due(person, policy, now)
            if reason is not None:
                skipped[reason] += 1
                continue
            language = State.from_json(person.state).language
            text = say(language, "reminder", title=survey.title.get(language, ""))
            queued = await self._bot.remind(
                pid=person.pid,
                platform=person.platform,
                conversation_id=person.conversation_id,
                run_id=run.id,
                text=text,
            )
            reminded += queued
        return reminded, skipped

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
