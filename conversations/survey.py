"""The survey model: what a survey file may say, checked structurally by pydantic.

Cross-question rules (branch targets, loops, translations) live in
`conversations.checks`, which reports every problem at once instead of the first.
"""

from __future__ import annotations

from datetime import timedelta
from functools import cached_property
from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints

from conversations.questions import (
    AnswerValue,
    AnyQuestion,
    Identifier,
    LanguageCode,
    Model,
    Question,
    Texts,
    in_words,
)

END = "end"  # a branch or `next` target that finishes the survey
MAX_QUESTIONS = 100


def _days_if_number(value: object) -> object:
    # A bare number in a survey file means days: pydantic alone would read seconds.
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(days=value)
    return value


def _longer_than_nothing(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise ValueError("must be longer than nothing, e.g. '14 days' or '36 hours'")
    return value


# A length of time: a number of days, or e.g. '36 hours', '2 days', 'P14D'.
Duration = Annotated[
    timedelta, BeforeValidator(_days_if_number), AfterValidator(_longer_than_nothing)
]
# Staff roles (bot/roles.py says what each may do), and how staff are named.
StaffRole = Literal["coordinator", "analyst", "intermediary", "moderator", "replier"]
StaffName = Annotated[str, StringConstraints(pattern=r"^[a-z]+:\S+$", max_length=300)]
# Where a run's digests go: "platform:conversation", e.g. "slack:C0123" or "web:staff".
StaffChannel = Annotated[str, StringConstraints(pattern=r"^[a-z]+:\S+$", max_length=300)]


class ReminderPolicy(Model):
    """Reminders sent by themselves: `after` this long without an answer (or since the
    last reminder), at most `at_most` times."""

    after: Duration
    at_most: int = Field(default=2, ge=1, le=10)


class DigestExtras(Model):
    """What a digest brings besides its text, where the platform takes files."""

    chart: bool = False  # a PNG bar chart of the choice and scale questions
    csv: bool = False  # the run's answers so far, as in `survey export`
    # The staff's language for this survey's digests, if not civicbot.toml's.
    language: LanguageCode | None = None
    # A scheduled digest with nothing new posts one line saying so, or nothing at all.
    when_empty: Literal["say so", "skip"] = "say so"


class ExpectedShares(Model):
    """Who the service expects to hear from: the shares (in percent) of one single-choice
    profile question's options, such as the area's residents by age group. Digests warn
    when a group's share of the answers is below half of its expected share."""

    question: Identifier
    shares: dict[Identifier, Annotated[float, Field(gt=0, le=100)]] = Field(min_length=2)


class PlainTexts(Model):
    """The survey's own texts in plain language, for people with the accessible profile;
    each question and option has its own `plain`. A language left out uses the usual text."""

    intro: Texts | None = None
    consent: Texts | None = None
    thanks: Texts | None = None


class Survey(Model):
    id: Identifier
    title: Texts
    languages: list[LanguageCode] = Field(min_length=1)
    keyword: Annotated[str, StringConstraints(min_length=2, max_length=40)] | None = None
    anonymous: bool = False
    # Typing the keyword opens a run without a coordinator (a kiosk, a library's desk);
    # otherwise the keyword works only while a coordinator has a run open for everyone.
    open: bool = False
    staff_channel: StaffChannel | None = None  # where an open survey's digests go
    repeat: bool = False  # one person may answer the same run more than once
    # At the end, ask whether the service may reply to the person about their answers
    # (staff answer a quote's reference without learning who wrote it).
    may_reply: bool = False
    # A conversation with no answer for this long has moved on: the person is free again.
    expires_after: Duration = timedelta(days=14)
    remind: ReminderPolicy | None = None  # None: only when a coordinator asks
    # How long answers are kept after the run closes; then they are deleted, and with
    # keep_counts only the counts of each choice and scale answer stay.
    keep_answers: Duration = timedelta(days=365)
    keep_counts: bool = False
    # Staff with a role for this survey's runs only, besides those of civicbot.toml.
    roles: dict[StaffRole, list[StaffName]] = Field(default_factory=dict)
    # No count below this is shown to staff, nor a quote before this many have completed.
    min_group_size: int = Field(default=5, ge=1, le=100)
    intro: Texts | None = None
    consent: Texts | None = None
    thanks: Texts | None = None
    plain: PlainTexts = PlainTexts()
    questions: list[Question] = Field(min_length=1)
    digest: DigestExtras = DigestExtras()
    expected: ExpectedShares | None = None

    @property
    def default_language(self) -> str:
        return self.languages[0]

    def title_in(self, language: str) -> str:
        """The title in `language`, or in the survey's first language if it has no such."""
        return self.title.get(language, self.title[self.default_language])

    def worded(self, name: str, lang: str, *, plain: bool = False) -> str | None:
        """The survey's `name` text (intro, consent, thanks) in `lang`, in plain language if
        asked and it has that; None if the survey has no such text."""
        texts = getattr(self, name)
        return in_words(texts, getattr(self.plain, name), lang, plainly=plain) if texts else None

    def question(self, question_id: str) -> AnyQuestion:
        return self._by_id[question_id]

    def after(self, question_id: str) -> str:
        """The question that follows `question_id` in file order, or END."""
        index = self._order[question_id] + 1
        return self.questions[index].id if index < len(self.questions) else END

    def next_question(self, question: AnyQuestion, value: AnswerValue) -> str:
        """The id of the question after `question` given `value` (None: skipped), or END."""
        if value is not None:
            for rule in question.branch:
                if question.matches(rule, value):
                    return rule.goto
        return question.next or self.after(question.id)

    @cached_property
    def question_ids(self) -> frozenset[str]:
        return frozenset(self._by_id)

    def order(self, question_id: str) -> int:
        """Where the question stands in the file, for listing answers in survey order."""
        return self._order[question_id]

    @cached_property
    def prompt_cache(self) -> dict[tuple[str, str, bool], object]:
        """Question prompts by (question id, language, accessible), filled by the engine."""
        return {}

    @cached_property
    def _by_id(self) -> dict[str, AnyQuestion]:
        return {q.id: q for q in self.questions}

    @cached_property
    def _order(self) -> dict[str, int]:
        return {q.id: i for i, q in enumerate(self.questions)}
