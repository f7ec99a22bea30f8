"""Digests: what people said in a run, short enough to read in a minute.

`build` is a pure function from stored rows to a `Digest`: each question sums up
its answers, free text passes redaction (bot/redaction.py) and screening
(bot/screening.py) before anything is counted or quoted, and the digest notes what
changed since the last one, who is heard less than expected, and what is flagged.
bot/small_cells.py then hides what would tell who answered; bot/digest_text.py
turns the result into the headline and the figures below the fold.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from bot.redaction import redacted
from bot.screening import screened
from conversations.questions import AnswerValue
from conversations.summary import Summary
from conversations.survey import Survey
from storage.records import AnswerRow, ResponseRow

MAX_FLAGGED_QUOTES = 2
MIN_CHANGE = 0.05  # a mean that moved less than this has not changed


@dataclass(frozen=True, slots=True)
class Change:
    """A scale's mean at the last digest and now."""

    question: str
    before: float
    now: float
    answered_before: int
    answered: int


@dataclass(frozen=True, slots=True)
class Underheard:
    """A group that answered far less than its share of the people the survey is for."""

    group: str
    expected: float  # percent
    count: int
    heard: float | None  # percent of the completed responses that answered the question


@dataclass(frozen=True, slots=True)
class LowWithComment:
    """Responses that gave a scale's lowest point and said why in their own words."""

    count: int
    quotes: tuple[str, ...] = ()


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
    since: float | None = None  # the last digest, if there was one
    until: float = 0.0
    language: str = "en"  # the staff's, for the digest's own words
    held: int = 0  # answers held for review (threats, slurs) and not released
    assisted: int = 0  # completed responses an intermediary typed in
    changes: tuple[Change, ...] = ()
    low_with_comment: LowWithComment = LowWithComment(0)
    underheard: tuple[Underheard, ...] = ()
    unheard_languages: tuple[str, ...] = ()  # survey languages nobody completed it in

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
    figures count completed responses; the others are only counted as partial. Survey
    texts are in `language` where the survey has it; the digest's own words always are."""
    lang = language if language in survey.languages else survey.default_language
    completed = {
        r.id: r for r in responses if r.status == "completed" and r.completed_at is not None
    }
    new = frozenset(
        rid
        for rid, r in completed.items()
        if (since is None or r.completed_at > since) and r.completed_at <= until
    )
    readable = _Readable(survey)
    by_question: dict[str, list[tuple[int, AnswerValue]]] = {}
    skipped: Counter[str] = Counter()
    assisted: set[int] = set()
    for row in answers:
        if row.response_id not in completed:
            continue
        if row.given_by != "participant":
            assisted.add(row.response_id)
        value = readable(row)
        if row.value is None:
            skipped[row.question_id] += 1
        elif value is not None:
            by_question.setdefault(row.question_id, []).append((row.response_id, value))
    summaries = tuple(
        question.summary(by_question.get(question.id, []), skipped[question.id], new, lang)
        for question in survey.questions
    )
    before = {rid for rid, r in completed.items() if since is not None and r.completed_at <= since}
    return Digest(
        run_id=run_id,
        survey_title=survey.title_in(lang),
        responses=len([r for r in responses if r.status != "declined"]),
        completed=len(completed),
        new_completed=len(new),
        questions=summaries,
        partial=len([r for r in responses if r.status not in ("completed", "declined")]),
        since=since,
        until=until,
        language=language or lang,
        held=readable.held,
        assisted=len(assisted),
        changes=_changes(survey, by_question, before, lang),
        low_with_comment=_low_with_comment(survey, by_question),
        underheard=_underheard(survey, by_question, lang),
        unheard_languages=tuple(
            code
            for code in survey.languages
            if completed and not any(r.language == code for r in completed.values())
        ),
    )


class _Readable:
    """An answer as staff may read it: citizens' words redacted, and held (None) when
    screening finds abuse, unless a moderator released it."""

    def __init__(self, survey: Survey) -> None:
        self._words = {q.id for q in survey.questions if q.citizen_words}
        self.held = 0

    def __call__(self, row: AnswerRow) -> AnswerValue:
        if row.value is None or row.question_id not in self._words:
            return row.value
        text = str(row.value)
        if row.review == "kept" or (row.review != "released" and screened(text)):
            self.held += 1
            return None
        return redacted(text)


def _changes(
    survey: Survey, by_question: dict[str, list[tuple[int, AnswerValue]]], before: set[int], lang
) -> tuple[Change, ...]:
    changes = []
    for question in survey.questions:
        if question.type != "scale":
            continue
        values = by_question.get(question.id, [])
        earlier = [float(v) for rid, v in values if rid in before]
        if not earlier or len(earlier) == len(values):
            continue
        then = sum(earlier) / len(earlier)
        now = sum(float(v) for _, v in values) / len(values)
        if abs(now - then) >= MIN_CHANGE:
            changes.append(Change(question.text[lang], then, now, len(earlier), len(values)))
    return tuple(changes)


def _low_with_comment(
    survey: Survey, by_question: dict[str, list[tuple[int, AnswerValue]]]
) -> LowWithComment:
    lowest = {
        rid
        for question in survey.questions
        if question.type == "scale"
        for rid, value in by_question.get(question.id, [])
        if value == question.min
    }
    comments: dict[int, str] = {}
    for question in survey.questions:
        if question.citizen_words:
            for rid, text in by_question.get(question.id, []):
                if rid in lowest:
                    comments.setdefault(rid, " ".join(str(text).split()))
    quotes = sorted(comments.values(), key=lambda text: (-len(text), text))
    return LowWithComment(len(comments), tuple(quotes[:MAX_FLAGGED_QUOTES]))


def _underheard(
    survey: Survey, by_question: dict[str, list[tuple[int, AnswerValue]]], lang: str
) -> tuple[Underheard, ...]:
    expected = survey.expected
    if expected is None:
        return ()
    values = [v for _, v in by_question.get(expected.question, [])]
    if not values:
        return ()
    counts = Counter(values)
    question = survey.question(expected.question)
    labels = {option.id: option.text[lang] for option in question.options}
    found = []
    for option, share in expected.shares.items():
        heard = 100.0 * counts[option] / len(values)
        if heard < share / 2:
            found.append(Underheard(labels[option], share, counts[option], heard))
    return tuple(found)
