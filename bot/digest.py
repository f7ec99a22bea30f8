"""Digests: what people said in a run, short enough to read in a minute.

`build` is a pure function from stored rows to a `Digest`; `render_text` turns
one into plain text. Adapters that have richer formatting render the model
themselves, escaping the quotes (citizen text) for their platform.
"""

from __future__ import annotations

import json
import re
import statistics
from collections import Counter
from dataclasses import dataclass, field

from conversations.survey import FreeText, MultipleChoice, Number, Scale, SingleChoice, Survey
from conversations.text import fold

MAX_QUOTES = 3
MAX_QUOTE_LENGTH = 200
MAX_THEMES = 5
BAR_WIDTH = 20

# Words too common to be a theme, in the languages the bot speaks.
_STOPWORDS = frozenset(
    fold(word)
    for line in (
        "the a an and or but if of to in on at for with from by is are was were be been it its",
        "this that these those i you he she we they me my our your their not no yes so very",
        "more less can could would should will just also than then there here what when how",
        "ja tai mutta on ei se ne että kun jos niin myös kuin mitä ole oli olla minä sinä hän",
        "me te he tämä tuo siellä täällä enemmän vähemmän",
        "och eller men är inte det den de att när om så också än vad var jag du han hon vi ni",
        "mer mindre har hade ska kan",
    )
    for word in line.split()
)
_WORD = re.compile(r"[^\W\d_]{3,}", re.UNICODE)


@dataclass(frozen=True, slots=True)
class ResponseRow:
    id: int
    status: str
    completed_at: float | None


@dataclass(frozen=True, slots=True)
class AnswerRow:
    response_id: int
    question_id: str
    value: str | None  # JSON as stored; JSON null when skipped


@dataclass(frozen=True, slots=True)
class OptionCount:
    label: str
    count: int
    percent: float


@dataclass(frozen=True, slots=True)
class QuestionSummary:
    question_id: str
    text: str
    kind: str
    answered: int
    skipped: int
    options: tuple[OptionCount, ...] = ()  # choices, and each point of a scale
    mean: float | None = None
    median: float | None = None
    themes: tuple[tuple[str, int], ...] = ()
    quotes: tuple[str, ...] = ()  # citizen text: adapters escape it for their platform


@dataclass(frozen=True, slots=True)
class Digest:
    run_id: int
    survey_title: str
    responses: int
    completed: int
    new_completed: int
    questions: tuple[QuestionSummary, ...] = field(default_factory=tuple)

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
    """The digest of a run at `until`, counting as new what completed after `since`."""
    lang = language if language in survey.languages else survey.default_language
    completed = [r for r in responses if r.status == "completed" and r.completed_at is not None]
    new = {
        r.id
        for r in completed
        if (since is None or r.completed_at > since) and r.completed_at <= until
    }
    by_question: dict[str, list[tuple[int, object]]] = {}
    for row in answers:
        by_question.setdefault(row.question_id, []).append(
            (row.response_id, None if row.value is None else json.loads(row.value))
        )
    summaries = tuple(
        _summarise(question, by_question.get(question.id, []), new, lang)
        for question in survey.questions
    )
    return Digest(
        run_id=run_id,
        survey_title=survey.title[lang],
        responses=len([r for r in responses if r.status != "declined"]),
        completed=len(completed),
        new_completed=len(new),
        questions=summaries,
    )


def _summarise(
    question, rows: list[tuple[int, object]], new: set[int], lang: str
) -> QuestionSummary:
    given = [(rid, v) for rid, v in rows if v is not None]
    skipped = len(rows) - len(given)
    base = {"question_id": question.id, "text": question.text[lang], "answered": len(given)}
    if isinstance(question, SingleChoice | MultipleChoice):
        counts = Counter()
        for _, value in given:
            counts.update(value if isinstance(value, list) else [value])
        options = tuple(
            OptionCount(o.text[lang], counts[o.id], _percent(counts[o.id], len(given)))
            for o in question.options
        )
        return QuestionSummary(**base, kind=question.type, skipped=skipped, options=options)
    if isinstance(question, Scale | Number):
        values = [float(v) for _, v in given]
        options = ()
        if isinstance(question, Scale):
            counts = Counter(int(v) for v in values)
            options = tuple(
                OptionCount(str(p), counts[p], _percent(counts[p], len(values)))
                for p in range(question.min, question.max + 1)
            )
        return QuestionSummary(
            **base,
            kind=question.type,
            skipped=skipped,
            options=options,
            mean=statistics.fmean(values) if values else None,
            median=statistics.median(values) if values else None,
        )
    assert isinstance(question, FreeText)
    texts = [(rid, str(v)) for rid, v in given]
    return QuestionSummary(
        **base,
        kind=question.type,
        skipped=skipped,
        themes=_themes([t for _, t in texts]),
        quotes=_quotes(texts, new),
    )


def _percent(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 1) if whole else 0.0


def _themes(texts: list[str]) -> tuple[tuple[str, int], ...]:
    """Words that recur across answers (counted once per answer), most frequent first."""
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update({fold(w) for w in _WORD.findall(text)} - _STOPWORDS)
    recurring = [(word, n) for word, n in counts.items() if n >= 2]
    recurring.sort(key=lambda item: (-item[1], item[0]))
    return tuple(recurring[:MAX_THEMES])


def _quotes(texts: list[tuple[int, str]], new: set[int]) -> tuple[str, ...]:
    """A few answers in the participants' own words, new ones first, longest first."""
    ordered = sorted(texts, key=lambda item: (item[0] not in new, -len(item[1]), item[0]))
    quotes = []
    for _, text in ordered[:MAX_QUOTES]:
        flat = " ".join(text.split())
        quotes.append(flat if len(flat) <= MAX_QUOTE_LENGTH else flat[: MAX_QUOTE_LENGTH - 1] + "…")
    return tuple(quotes)


def render_text(digest: Digest) -> str:
    """Plain text for platforms without formatting, and as every platform's fallback."""
    lines = [
        f"Digest: {digest.survey_title} (run {digest.run_id})",
        f"Responses: {digest.responses}, completed {digest.completed} "
        f"({digest.completion_rate:.0f}%), {digest.new_completed} new since the last digest",
    ]
    for summary in digest.questions:
        lines.append("")
        lines.append(f"{summary.text} ({summary.answered} answered, {summary.skipped} skipped)")
        if summary.kind == "scale" and summary.mean is not None:
            lines.append(f"  mean {summary.mean:.1f}, median {summary.median:g}")
            top = max((o.count for o in summary.options), default=0)
            for option in summary.options:
                bar = "█" * round(BAR_WIDTH * option.count / top) if top else ""
                lines.append(f"  {option.label:>2} {bar} {option.count}")
        elif summary.kind == "number" and summary.mean is not None:
            lines.append(f"  mean {summary.mean:.1f}, median {summary.median:g}")
        else:
            for option in summary.options:
                lines.append(f"  {option.label}: {option.count} ({option.percent:g}%)")
        if summary.themes:
            lines.append("  themes: " + ", ".join(f"{w} ({n})" for w, n in summary.themes))
        for quote in summary.quotes:
            lines.append(f"  “{quote}”")
    return "\n".join(lines)
