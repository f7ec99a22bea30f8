"""Retention: what civicbot deletes when its time is up, once a day on the scheduler.

- A closed run's answers, responses and conversations, `keep_answers` after it closed
  (per survey; a survey that says `keep_counts` keeps how often each choice and scale
  value was given). Runs of surveys no longer loaded are kept for the default time.
- The addresses of people not seen for `keep_addresses`: they are reached again when
  they next write.

Each deletion is audited with its counts (as the user `civicbot:retention`), and the
storage overwrites what it deleted and compacts its files.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from bot.run_status import length
from bot.survey_files import SurveyCatalogue
from conversations.survey import Survey
from storage.contract import Storage

log = logging.getLogger(__name__)

RETENTION_EVERY = 24 * 3600.0
# The question types whose answers can be kept as counts without naming anybody.
COUNTED_TYPES = frozenset({"single_choice", "multiple_choice", "scale"})
DEFAULT_KEEP_ANSWERS = Survey.model_fields["keep_answers"].default


async def apply_retention(
    store: Storage, surveys: SurveyCatalogue, *, keep_addresses: timedelta, now: float
) -> None:
    loaded = surveys.surveys
    unloaded = {run.survey_id for run in await store.runs()} - set(loaded)
    for survey_id in sorted(loaded) + sorted(unloaded):
        survey = loaded.get(survey_id)
        keep = survey.keep_answers if survey else DEFAULT_KEEP_ANSWERS
        counted = (
            [q.id for q in survey.questions if q.type in COUNTED_TYPES]
            if survey and survey.keep_counts
            else []
        )
        purged = await store.purge_answers(
            survey_id, closed_before=now - keep.total_seconds(), counted=counted, now=now
        )
        for run in purged:
            kept = "; the counts of its choices are kept" if counted else ""
            await _audited(
                store,
                now,
                f"deleted {run.answers} answers of {run.responses} responses of run "
                f"{run.run_id} ({survey_id}), {length(keep.total_seconds())} after it closed{kept}",
            )
    forgotten = await store.forget_addresses(inactive_since=now - keep_addresses.total_seconds())
    if forgotten:
        await _audited(
            store,
            now,
            f"deleted the addresses of {forgotten} people not seen for "
            f"{length(keep_addresses.total_seconds())}",
        )


async def _audited(store: Storage, now: float, outcome: str) -> None:
    log.info("retention: %s", outcome)
    await store.audit(
        now=now,
        platform="civicbot",
        user_id="retention",
        command="retention",
        allowed=True,
        outcome=outcome,
    )
