"""A run's answers as CSV: one row per response, one column per question, in survey order.

Safe to open in a spreadsheet: a text cell that a spreadsheet would run as a
formula (it starts with =, +, -, @, a tab or a carriage return) is prefixed with
an apostrophe, as OWASP advises, and the file starts with a UTF-8 byte-order mark
so that ä, ö and å read right. Participants' own words are redacted
(bot/redaction.py) unless a coordinator asks for them raw (`survey export RUN
raw`, audited like every command). A skipped question reads `[skipped]`; one the
person did not reach (another branch, or not yet) is an empty cell. Each row says
its status and whether it is complete, its language and channel, and who typed the
answers (`participant`, `intermediary`, or both).

In an anonymous survey the rows are shuffled and numbered 1, 2, 3 … anew in each
export, so neither their order nor their numbers follow invitations or response
ids, and nothing joins two exports' rows.
"""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Iterable
from datetime import UTC, datetime

from bot.redaction import redacted
from conversations.questions import AnswerValue
from conversations.survey import Survey
from storage.records import AnswerRow, ResponseRow

SKIPPED = "[skipped]"
# Before the answers: the row's number, how far it got, when, in which language and
# channel, and whether the participant or an intermediary typed the answers.
PROVENANCE = ("response", "status", "complete", "completed_at", "language", "channel", "given_by")
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_of(
    survey: Survey,
    rows: Iterable[tuple[ResponseRow, list[AnswerRow]]],
    *,
    raw: bool = False,
) -> tuple[bytes, int]:
    """The CSV file's bytes, written a response at a time, and how many responses it
    holds: participants' own words redacted unless `raw`. An anonymous survey's rows
    come shuffled (Storage.export's `shuffle`) and are numbered as they come."""
    lang = survey.default_language
    words = set() if raw else {q.id for q in survey.questions if q.citizen_words}
    shown: dict[str, str] = {}  # many people write the same words: redact them once
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([*PROVENANCE, *(q.id for q in survey.questions)])
    number = 0
    for number, (response, answers) in enumerate(rows, start=1):
        given: dict[str, AnswerValue] = {}
        for answer in answers:
            value = answer.value
            if answer.question_id in words and value is not None:
                text = str(value)
                value = shown.get(text) or shown.setdefault(text, redacted(text))
            given[answer.question_id] = value
        cells = [
            _cell(
                q.cell(given[q.id], lang) if given.get(q.id) is not None else None,
                skipped=q.id in given,
            )
            for q in survey.questions
        ]
        completed_at = response.completed_at
        when = datetime.fromtimestamp(completed_at, UTC).isoformat() if completed_at else ""
        given_by = "/".join(sorted({answer.given_by for answer in answers}))
        complete = "completed" if response.status == "completed" else "partial"
        provenance = [
            number if survey.anonymous else response.id,
            response.status,
            complete,
            when,
            response.language or "",
            response.channel or "",
            given_by,
        ]
        writer.writerow([*provenance, *cells])
    return out.getvalue().encode("utf-8-sig"), number


def shuffled(ids: list[int]) -> None:
    """An anonymous survey's export order: unpredictable, new each time."""
    random.SystemRandom().shuffle(ids)


def _cell(value: object, *, skipped: bool) -> object:
    if value is None:
        return SKIPPED if skipped else ""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value
