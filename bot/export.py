"""A run's answers as CSV: one row per response, one column per question, in survey order.

Safe to open in a spreadsheet: a text cell that a spreadsheet would run as a
formula (it starts with =, +, -, @, a tab or a carriage return) is prefixed with
an apostrophe, as OWASP advises, and the file starts with a UTF-8 byte-order mark
so that ä, ö and å read right. Participants' own words are redacted
(bot/redaction.py) unless a coordinator asks for them raw (`survey export RUN
raw`, audited like every command). A skipped question reads `[skipped]`; one the
person did not reach (another branch, or not yet) is an empty cell.

In an anonymous survey the rows are shuffled and numbered 1, 2, 3 … anew in each
export, so neither their order nor their numbers follow invitations or response
ids, and nothing joins two exports' rows.
"""

from __future__ import annotations

import csv
import io
import random
from datetime import UTC, datetime

from bot.redaction import redacted
from conversations.questions import AnswerValue
from conversations.survey import Survey

SKIPPED = "[skipped]"
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_of(
    survey: Survey,
    responses: list[tuple[int, str, float | None]],
    answers: list[tuple[int, str, AnswerValue]],
    *,
    raw: bool = False,
    shuffle: random.Random | None = None,
) -> bytes:
    """The CSV file's bytes: participants' own words redacted unless `raw`. `shuffle`
    orders an anonymous survey's rows (by default an unpredictable order)."""
    lang = survey.default_language
    by_response: dict[int, dict[str, AnswerValue]] = {}
    words = set() if raw else {q.id for q in survey.questions if q.citizen_words}
    for response_id, question_id, value in answers:
        if question_id in words and value is not None:
            value = redacted(str(value))
        by_response.setdefault(response_id, {})[question_id] = value
    rows = list(responses)
    if survey.anonymous:
        (shuffle or random.SystemRandom()).shuffle(rows)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["response", "status", "completed_at", *(q.id for q in survey.questions)])
    for number, (response_id, status, completed_at) in enumerate(rows, start=1):
        given = by_response.get(response_id, {})
        cells = [
            _cell(
                q.cell(given[q.id], lang) if q.id in given and given[q.id] is not None else None,
                skipped=q.id in given,
            )
            for q in survey.questions
        ]
        when = datetime.fromtimestamp(completed_at, UTC).isoformat() if completed_at else ""
        shown = number if survey.anonymous else response_id
        writer.writerow([shown, status, when, *cells])
    return out.getvalue().encode("utf-8-sig")


def _cell(value: object, *, skipped: bool) -> object:
    if value is None:
        return SKIPPED if skipped else ""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value
