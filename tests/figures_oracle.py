"""What `Storage.run_figures` returns for given rows, worked out in plain Python: the
digest tests build from it, and the contract suite checks the backends against it."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from storage.records import AnswerRow, LowestComment, ResponseRow, RunFigures, ValueCount


def figures_from(
    responses: list[ResponseRow],
    answers: list[AnswerRow],
    *,
    since: float | None,
    until: float = float("inf"),
    lowest: list[tuple[str, Any]] = (),
    comments: list[str] = (),
) -> RunFigures:
    completed = {r.id: r for r in responses if r.status == "completed"}
    new = {
        rid
        for rid, r in completed.items()
        if (since is None or r.completed_at > since) and r.completed_at <= until
    }
    counted: Counter[tuple[str, str, str | None]] = Counter()
    first: dict[tuple[str, str, str | None], int] = {}
    fresh: Counter[tuple[str, str, str | None]] = Counter()
    for a in answers:
        if a.response_id in completed:
            key = (a.question_id, json.dumps(a.value), a.review)
            counted[key] += 1
            fresh[key] += a.response_id in new
            first[key] = min(first.get(key, a.response_id), a.response_id)
    lowest_points = {(question, json.dumps(value)) for question, value in lowest}
    low = {
        a.response_id
        for a in answers
        if a.response_id in completed and (a.question_id, json.dumps(a.value)) in lowest_points
    }
    return RunFigures(
        last_digest=since,
        statuses=dict(Counter(r.status for r in responses)),
        languages=dict(Counter(r.language for r in completed.values())),
        assisted=len(
            {
                a.response_id
                for a in answers
                if a.response_id in completed and a.given_by != "participant"
            }
        ),
        reached_by=dict(Counter(r.reached_by for r in completed.values() if r.reached_by)),
        new_completed=len(new),
        values=[
            ValueCount(question, json.loads(value), review, count, fresh[key], first[key])
            for key in counted
            for question, value, review in [key]
            for count in [counted[key]]
        ],
        lowest_comments=[
            LowestComment(a.response_id, a.question_id, a.value, a.review)
            for a in answers
            if a.response_id in low and a.question_id in comments and a.value is not None
        ],
    )
