"""A run's answers as CSV: one row per response, one column per question, in survey order.
A question someone did not reach (another branch) or skipped is an empty cell."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from conversations.questions import AnswerValue
from conversations.survey import Survey


def csv_of(
    survey: Survey,
    responses: list[tuple[int, str, float | None]],
    answers: list[tuple[int, str, AnswerValue]],
) -> bytes:
    lang = survey.default_language
    by_response: dict[int, dict[str, AnswerValue]] = {}
    for response_id, question_id, value in answers:
        by_response.setdefault(response_id, {})[question_id] = value
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["response", "status", "completed_at", *(q.id for q in survey.questions)])
    for response_id, status, completed_at in responses:
        given = by_response.get(response_id, {})
        cells = [q.cell(given.get(q.id), lang) for q in survey.questions]
        when = datetime.fromtimestamp(completed_at, UTC).isoformat() if completed_at else ""
        writer.writerow([response_id, status, when, *cells])
    return out.getvalue().encode("utf-8")
