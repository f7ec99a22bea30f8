"""Digests: what people said in a run, short enough to read in a minute.

`build` is a pure function from stored rows to a `Digest`, asking each question
to sum up its answers; `render_text` turns one into the plain text that every
platform posts (adapters neutralise it for their platform, not reformat it).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.redaction import redacted
from conversations.questions import AnswerValue
from conversations.summary import Count, Summary
from conversations.survey import Survey

BAR_WIDTH = 20


@dataclass(frozen=True, slots=True)
class ResponseRow:
    id: int
    status: str
    completed_at: float | None


@dataclass(frozen=True, slots=True)
class AnswerRow:
    response_id: int
    question_id: str
    value: AnswerValue  # None when skipped


@dataclass(frozen=True, slots=True)
class Digest:
    run_id: int
    survey_title: str
    responses: int
    completed: int
    new_completed: int
    questions: tuple[Summary, ...] = field(default_factory=tuple)
    min_group_size: int = 1  # counts below it are hidden (bot/small_cells.py)
    partial: int = 0  # responses begun and not finished: not in the figures

    @property
    def completion_rate(self) -> float:
        return 100.0 * self.completed / self.responses if self.responses else 0.0


def build(
    *,
    survey: Survey,
    run_id: int,
    responses: list[ResponseRow],
    answers: list[AnswerRow],
    since: float | None,
    until: float,
    language: str | None = None,
) -> Digest:
    """The digest of a run at `until`, counting as new what completed after `since`. The
    figures count completed responses; the others are only counted as partial."""
    lang = language if language in survey.languages else survey.default_language
    completed = [r for r in responses if r.status == "completed" and r.completed_at is not None]
    new = {
        r.id
        for r in completed
        if (since is None or r.completed_at > since) and r.completed_at <= until
    }
    counted = {r.id for r in completed}
    by_question: dict[str, list[tuple[int, AnswerValue]]] = {}
    for row in answers:
        if row.response_id not in counted:
            continue
        by_question.setdefault(row.question_id, []).append((row.response_id, row.value))
    words = {q.id for q in survey.questions if q.citizen_words}
    summaries = []
    for question in survey.questions:
        rows = by_question.get(question.id, [])
        given = [
            (rid, redacted(str(v)) if question.id in words else v)
            for rid, v in rows
            if v is not None
        ]
        summaries.append(question.summary(given, len(rows) - len(given), frozenset(new), lang))
    return Digest(
        run_id=run_id,
        survey_title=survey.title[lang],
        responses=len([r for r in responses if r.status != "declined"]),
        completed=len(completed),
        new_completed=len(new),
        questions=tuple(summaries),
        partial=len([r for r in responses if r.status not in ("completed", "declined")]),
    )


def render_text(digest: Digest) -> str:
    """Plain text for platforms without formatting, and as every platform's fallback."""
    lines = [
        f"Digest: {digest.survey_title} (run {digest.run_id})",
        f"Responses: {digest.responses}, completed {digest.completed} "
        f"({digest.completion_rate:.0f}%), {digest.new_completed} new since the last digest",
    ]
    if digest.partial:
        lines.append(f"Figures count completed responses only ({digest.partial} unfinished).")
    for summary in digest.questions:
        lines.append("")
        lines.append(f"{summary.text} ({summary.answered} answered, {summary.skipped} skipped)")
        if summary.mean is not None:
            lines.append(f"  mean {summary.mean:.1f}, median {summary.median:g}")
        if summary.facts:
            lines.append("  " + ", ".join(f"{name} {value}" for name, value in summary.facts))
        if not summary.answered:
            lines.append("  no answers yet")
        elif summary.counts and all(c.hidden for c in summary.counts):
            lines.append(f"  figures hidden until {digest.min_group_size} have answered")
        elif summary.bars:
            top = max((c.count for c in summary.counts), default=0)
            width = max(2, *(len(c.label) for c in summary.counts))
            for count in summary.counts:
                bar = "█" * round(BAR_WIDTH * count.count / top) if top else ""
                shown = shown_count(count, digest.min_group_size, percent=False)
                lines.append(f"  {count.label:>{width}} {bar} {shown}")
        else:
            nobody = [c.label for c in summary.counts if not c.count and not c.hidden]
            for count in summary.counts:
                if count.count or count.hidden:
                    lines.append(f"  {count.label}: {shown_count(count, digest.min_group_size)}")
            if nobody:
                lines.append(f"  chosen by nobody: {', '.join(nobody)}")
        if summary.themes:
            lines.append("  themes: " + ", ".join(f"{w} ({n})" for w, n in summary.themes))
        for quote in summary.quotes:
            lines.append(f"  “{quote}”")
    return "\n".join(lines)


def shown_count(count: Count, min_group_size: int, *, percent: bool = True) -> str:
    """A count as staff may see it (with its percentage, unless not wanted), or "fewer
    than k"."""
    if count.hidden:
        return f"fewer than {min_group_size}"
    return f"{count.count} ({count.percent:g}%)" if percent else str(count.count)
