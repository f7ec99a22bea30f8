"""Digests: what people said in a run, short enough to read in a minute.

`build` is a pure function from a run's figures (each distinct answer with how many
gave it, summed up by storage) to a `Digest`: each question sums up its answers,
free text passes redaction (bot/redaction.py) and screening (bot/screening.py)
before anything is counted or quoted, and the digest notes what changed since the
last one, who is heard less than expected, and what is flagged.
bot/small_cells.py then hides what would tell who answered; bot/digest_text.py
turns the result into the headline and the figures below the fold.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from bot.redaction import redacted
from bot.screening import screened
from conversations.assist import REACHED
from conversations.questions import AnswerValue
from conversations.questions.base import Given
from conversations.questions.free_text import flat
from conversations.summary import Summary
from conversations.survey import Survey
from storage.records import LowestComment, RunFigures

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
    reached_by: tuple[tuple[str, int], ...] = ()  # of those, by how the person was reached
    changes: tuple[Change, ...] = ()
    low_with_comment: LowWithComment = LowWithComment(0)
    underheard: tuple[Underheard, ...] = ()
    unheard_languages: tuple[str, ...] = ()  # survey languages nobody completed it in
    # a quote as shown -> the answer it came from (response id, question id), so that
    # staff can reply to it; never for an anonymous survey
    sources: dict[str, tuple[int, str]] = field(default_factory=dict)
    references: dict[str, str] = field(default_factory=dict)  # a quote -> its reference
    # a finding's key -> its number in the run (F3), and what staff did: (status, note)
    numbers: dict[str, int] = field(default_factory=dict)
    outcomes: dict[str, tuple[str, str | None]] = field(default_factory=dict)

    @property
    def completion_rate(self) -> float:
        return 100.0 * self.completed / self.responses if self.responses else 0.0


def build(
    *,
    survey: Survey,
    run_id: int,
    figures: RunFigures,
    until: float,
    language: str | None = None,
) -> Digest:
    """The digest of a run at `until` from its figures, counting as new what completed
    since the last digest. The figures count completed responses; the others are only
    counted as partial. Survey texts are in `language` where the survey has it; the
    digest's own words always are."""
    lang = language if language in survey.languages else survey.default_language
    readable = _Readable(survey)
    sources: dict[str, tuple[int, str]] = {}
    given: dict[str, Given] = {}
    skipped: Counter[str] = Counter()
    for row in figures.values:
        if row.value is None:
            skipped[row.question_id] += row.count
            continue
        value = readable(row.question_id, row.value, row.review, row.count)
        if value is not None:
            given.setdefault(row.question_id, []).append((value, row.count, row.new))
            if readable.words(row.question_id) and row.first_response is not None:
                sources.setdefault(_flat(value), (row.first_response, row.question_id))
    statuses = figures.statuses
    completed = statuses.get("completed", 0)
    return Digest(
        run_id=run_id,
        survey_title=survey.title_in(lang),
        responses=sum(n for status, n in statuses.items() if status != "declined"),
        completed=completed,
        new_completed=figures.new_completed,
        questions=tuple(
            question.summary(given.get(question.id, []), skipped[question.id], lang)
            for question in survey.questions
        ),
        partial=sum(n for status, n in statuses.items() if status not in _NOT_PARTIAL),
        since=figures.last_digest,
        until=until,
        language=language or lang,
        held=readable.held,
        assisted=figures.assisted,
        reached_by=tuple(sorted(figures.reached_by.items(), key=_reached_order)),
        changes=_changes(survey, given, lang),
        low_with_comment=_low_with_comment(figures.lowest_comments, readable, sources),
        underheard=_underheard(survey, given, lang),
        unheard_languages=tuple(
            code for code in survey.languages if completed and not figures.languages.get(code)
        ),
        sources={} if survey.anonymous else sources,
    )


def asked_of(survey: Survey) -> dict[str, list]:
    """What `Storage.run_figures` needs to know of the survey: each scale's lowest point,
    and the questions people answer in their own words."""
    return {
        "lowest": [(q.id, q.min) for q in survey.questions if q.type == "scale"],
        "comments": [q.id for q in survey.questions if q.citizen_words],
    }


_NOT_PARTIAL = ("completed", "declined")


class _Readable:
    """An answer as staff may read it: citizens' words redacted, and held (None) when
    screening finds abuse, unless a moderator released it."""

    def __init__(self, survey: Survey) -> None:
        self._words = {q.id for q in survey.questions if q.citizen_words}
        self._seen: dict[str, tuple[bool, str]] = {}  # many people write the same words
        self.held = 0

    def words(self, question_id: str) -> bool:
        return question_id in self._words

    def __call__(
        self, question_id: str, value: AnswerValue, review: str | None, count: int = 1
    ) -> AnswerValue:
        if question_id not in self._words:
            return value
        text = str(value)
        seen = self._seen.get(text)
        if seen is None:
            seen = self._seen[text] = (screened(text) is not None, redacted(text))
        abusive, shown = seen
        if review == "kept" or (review != "released" and abusive):
            self.held += count
            return None
        return shown


def _changes(survey: Survey, given: dict[str, Given], lang: str) -> tuple[Change, ...]:
    changes = []
    for question in survey.questions:
        if question.type != "scale":
            continue
        counted = given.get(question.id, [])
        answered = sum(count for _, count, _ in counted)
        before = sum(count - new for _, count, new in counted)
        if not before or before == answered:
            continue
        then = sum(float(v) * (count - new) for v, count, new in counted) / before
        now = sum(float(v) * count for v, count, _ in counted) / answered
        if abs(now - then) >= MIN_CHANGE:
            changes.append(Change(question.text[lang], then, now, before, answered))
    return tuple(changes)


def _low_with_comment(
    comments: list[LowestComment], readable: _Readable, sources: dict[str, tuple[int, str]]
) -> LowWithComment:
    said: dict[int, str] = {}
    for comment in comments:
        shown = readable(comment.question_id, comment.value, comment.review)
        if shown is not None:
            said.setdefault(comment.response_id, _flat(shown))
            sources.setdefault(_flat(shown), (comment.response_id, comment.question_id))
    quotes = sorted(set(said.values()), key=lambda text: (-len(text), text))
    return LowWithComment(len(said), tuple(quotes[:MAX_FLAGGED_QUOTES]))


def _flat(text: AnswerValue) -> str:
    """A quote as the digest shows it, on one line (questions cut long ones the same way)."""
    return flat(str(text))


def _underheard(survey: Survey, given: dict[str, Given], lang: str) -> tuple[Underheard, ...]:
    expected = survey.expected
    if expected is None:
        return ()
    counts: Counter[AnswerValue] = Counter()
    for value, count, _ in given.get(expected.question, []):
        counts[value] += count
    answered = sum(counts.values())
    if not answered:
        return ()
    question = survey.question(expected.question)
    labels = {option.id: option.text[lang] for option in question.options}
    found = []
    for option, share in expected.shares.items():
        heard = 100.0 * counts[option] / answered
        if heard < share / 2:
            found.append(Underheard(labels[option], share, counts[option], heard))
    return tuple(found)


def _reached_order(item: tuple[str, int]) -> int:
    """Phone, in person, home visit: as the intermediary's question offers them."""
    return REACHED.index(item[0]) if item[0] in REACHED else len(REACHED)
