"""A run's answers as CSV: one row per response, one column per question, in survey order.
A question someone did not reach (another branch) or skipped is an empty cell."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

from conversations.survey import MultipleChoice, SingleChoice, Survey


def csv_of(
    survey: Survey,
    responses: list[tuple[int, str, float | None]],
    answers: list[tuple[int, str, str | None]],
) -> bytes:
    labels = {
        q.id: {o.id: o.text[survey.default_language] for o in q.options}
        for q in survey.questions
        if isinstance(q, SingleChoice | MultipleChoice)
    }
    by_response: dict[int, dict[str, object]] = {}
    for response_id, question_id, value in answers:
        if value is not None:
            by_response.setdefault(response_id, {})[question_id] = json.loads(value)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["response", "status", "completed_at", *(q.id for q in survey.questions)])
    for response_id, status, completed_at in responses:
        given = by_response.get(response_id, {})
        cells = []
        for question in survey.questions:
            value = given.get(question.id)
            names = labels.get(question.id, {})
            if value is None:
                cells.append("")
            elif isinstance(value, list):
                cells.append("; ".join(names.get(v, v) for v in value))
            else:
                cells.append(names.get(value, value) if isinstance(value, str) else value)
        when = datetime.fromtimestamp(completed_at, UTC).isoformat() if completed_at else ""
        writer.writerow([response_id, status, when, *cells])
    return out.getvalue().encode("utf-8")
