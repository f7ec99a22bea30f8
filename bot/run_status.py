"""What `survey list` and `survey status` say about surveys and runs."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.survey_files import SurveyCatalogue
from conversations.survey import Survey
from storage.contract import Storage
from storage.records import RunRow


async def listing(store: Storage, surveys: SurveyCatalogue) -> str:
    lines = ["Surveys:"]
    for survey in sorted(surveys.surveys.values(), key=lambda s: s.id):
        keyword = f", keyword '{survey.keyword}'" if survey.keyword else ""
        lines.append(
            f"  {survey.id}: {survey.title[survey.default_language]}"
            f" ({len(survey.questions)} questions{keyword})"
        )
    all_runs = await store.runs()
    lines.append("Runs:" if all_runs else "No runs yet: 'survey start SURVEY' starts one.")
    for run in all_runs:
        lines.append(
            f"  {run.id}: {run.survey_id}, {run.status}, {people(run.people)},"
            f" {run.completed} completed"
        )
    return "\n".join(lines)


async def status(store: Storage, run: RunRow, survey: Survey, extras: list[str]) -> str:
    """The run's counts, then `extras` (its reminders and schedules, which others keep)."""
    rate = 100 * run.completed / run.responses if run.responses else 0
    last = await store.last_digest(run.id)
    lines = [
        f"Run {run.id}: {run.survey_id}, {run.status}, audience {run.audience}.",
        f"{people(run.people)}, {run.responses} responses, {run.completed} completed "
        f"({rate:.0f}%). Last digest: {when(last) if last else 'none yet'}.",
    ]
    if run.opted_out:
        lines.append(f"{people(run.opted_out)} of them opted out of invitations and reminders.")
    if run.closes_at is not None and run.status == "open":
        lines.append(f"It closes by itself at {when(run.closes_at)}.")
    if run.purged_at is not None:
        lines.extend(await _kept(store, run, survey))
    return "\n".join(
        lines
        + extras
        + await text_deliveries(store, since=run.created_at)
        + await undeliverable(store)
    )


# Twilio's statuses as staff read them, in the order they are told; any other is told as it is.
TEXT_OUTCOMES = {
    "delivered": "delivered",
    "read": "delivered",
    "sent": "sent with no report of delivery yet",
    "accepted": "still being sent",
    "scheduled": "still being sent",
    "queued": "still being sent",
    "sending": "still being sent",
    "undelivered": "undelivered",
    "failed": "failed",
    "canceled": "canceled",
}


async def text_deliveries(store: Storage, *, since: float) -> list[str]:
    """What the carriers reported of the text messages sent since `since` (of any survey:
    a report names the message, not the run)."""
    counts: dict[str, int] = {}
    for status, count in (await store.delivery_counts(platform="sms", since=since)).items():
        told = TEXT_OUTCOMES.get(status, status)
        counts[told] = counts.get(told, 0) + count
    if not counts:
        return []
    known = dict.fromkeys(TEXT_OUTCOMES.values())
    told = [o for o in known if o in counts] + sorted(o for o in counts if o not in known)
    return [
        "Text messages since this run started, as the carriers reported them: "
        + ", ".join(f"{counts[outcome]:,} {outcome}" for outcome in told)
        + "."
    ]


async def undeliverable(store: Storage) -> list[str]:
    """The replies civicbot gave up sending (of any survey: replies know no run)."""
    dead = await store.undeliverable()
    if not dead:
        return []
    count = sum(d.count for d in dead)
    reasons = ", ".join(f"{d.platform} said {d.failure} ({d.count})" for d in dead)
    replies = "1 reply" if count == 1 else f"{count} replies"
    return [
        f"{replies} could not be delivered and will not be tried again ({reasons});"
        f" the latest on {when(max(d.last_at for d in dead))}."
    ]


async def _kept(store: Storage, run: RunRow, survey: Survey) -> list[str]:
    """What is left of a run whose answers retention deleted: when, and any counts."""
    lines = [f"Its answers were deleted on {when(run.purged_at)}, as its survey keeps them."]
    by_question: dict[str, list[str]] = {}
    for question_id, value, count in await store.kept_counts(run.id):
        question = survey.question(question_id) if question_id in survey.question_ids else None
        shown = question.shown(value, survey.default_language) if question else str(value)
        small = count < survey.min_group_size
        figure = f"fewer than {survey.min_group_size}" if small else str(count)
        by_question.setdefault(question_id, []).append(f"{shown}: {figure}")
    if by_question:
        lines.append("Counts kept:")
        lines.extend(f"  {q}: {', '.join(values)}" for q, values in by_question.items())
    return lines


def length(seconds: float) -> str:
    """A length of time as staff read it: '36 hours', '2 days', '1 day', '30 minutes'."""
    hours = seconds / 3600
    if hours < 1:
        return f"{seconds / 60:g} minutes"
    if hours % 24:
        return f"{hours:g} hours"
    return "1 day" if hours == 24 else f"{hours / 24:g} days"


def people(count: int) -> str:
    return f"{count} {'person' if count == 1 else 'people'}"


def when(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M UTC")


def when_local(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M %Z") if moment else "never"
