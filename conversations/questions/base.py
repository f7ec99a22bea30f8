"""What every question type shares, and the behaviour each one owns.

A question type is one pydantic model (what a survey file may say about it) with
its behaviour beside it: how a typed or clicked answer is read, how it is asked,
how a stored value reads to the participant and in the CSV, which branches it
takes, what a survey check says about it, and how a digest sums it up. The engine,
the checks, the core, the export and the digest ask the question; none of them
knows the types.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from conversations.messages import say
from conversations.outgoing import Choice, Message
from conversations.summary import Summary
from conversations.text import fold

Identifier = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$", strict=True)]
LanguageCode = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}$", strict=True)]
# language code -> text in that language
Texts = dict[LanguageCode, Annotated[str, StringConstraints(min_length=1, max_length=2000)]]
# What an answer is, as stored (JSON) and as the engine records it; None when skipped.
AnswerValue = str | int | float | list[str] | None
# The answers given to a question, each distinct value once: (value, how many gave it,
# how many of those completed since the last digest). Counts, not rows: a digest of a
# million answers sums up a few hundred of these.
Given = list[tuple[AnswerValue, int, int]]


def answered(given: Given) -> int:
    return sum(count for _, count, _ in given)


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True, slots=True)
class Invalid:
    """Why a message is no answer to the question; the participant is told this."""

    reason: str


def in_words(texts: Texts, plain: Texts | None, lang: str, *, plainly: bool) -> str:
    """A text in `lang`: its plain-language variant if `plainly` and there is one in `lang`."""
    if plainly and plain and lang in plain:
        return plain[lang]
    return texts[lang]


@dataclass(frozen=True, slots=True)
class Asking:
    """What reading an answer may need besides the text: the language it is written in,
    and the participant's today (for dates), both passed in so the engine stays pure."""

    lang: str
    today: datetime.date


class Option(Model):
    id: Identifier
    text: Texts
    plain: Texts | None = None  # in plain language, for the accessible profile

    def wording(self, lang: str, *, plain: bool = False) -> str:
        """Its text, in plain language if asked and the survey has it in `lang`."""
        return in_words(self.text, self.plain, lang, plainly=plain)

    @cached_property
    def names(self) -> frozenset[str]:
        """Everything that picks this option when typed, folded: its texts and its id."""
        return frozenset({fold(t) for t in self.text.values()} | {fold(self.id)})

    @cached_property
    def folded(self) -> dict[str, str]:
        """Its text per language, folded, for prefix matching."""
        return {lang: fold(text) for lang, text in self.text.items()}


class Branch(Model):
    """Go to `goto` when the answer matches. Choices match on option ids, numbers on bounds."""

    goto: Identifier
    any_of: list[Identifier] | None = None
    at_most: float | None = None
    at_least: float | None = None

    @model_validator(mode="after")
    def _has_condition(self) -> Branch:
        if self.any_of is None and self.at_most is None and self.at_least is None:
            raise ValueError("a branch needs a condition: any_of, at_most or at_least")
        return self


class QuestionBase(Model):
    # Whether answers are the participant's own words, which may hold personal data:
    # staff see them only after redaction (bot/redaction.py).
    citizen_words: ClassVar[bool] = False

    id: Identifier
    text: Texts
    plain: Texts | None = None  # the text in plain language, for the accessible profile
    help: Texts | None = None
    optional: bool = False
    next: Identifier | None = None
    branch: list[Branch] = Field(default_factory=list)

    # -- reading answers ------------------------------------------------------------

    def parse(self, text: str, asking: Asking) -> AnswerValue | Invalid:
        """The answer typed `text` gives, or why it is not one. `text` is never empty."""
        raise NotImplementedError

    def from_action(self, raw: str, asking: Asking) -> AnswerValue | Invalid:
        """The answer a button carries (buttons only offer valid answers)."""
        return self.parse(raw, asking)

    def matches(self, rule: Branch, value: AnswerValue) -> bool:
        """Whether a given answer takes the branch `rule`."""
        return False

    # -- asking ----------------------------------------------------------------------

    def hint(self, lang: str) -> str:
        """How to answer, in a sentence."""
        raise NotImplementedError

    def wording(self, lang: str, *, plain: bool = False) -> str:
        """The question's text, in plain language if asked and the survey has it in `lang`."""
        return in_words(self.text, self.plain, lang, plainly=plain)

    def choices(self, lang: str, *, plain: bool = False) -> tuple[Choice, ...]:
        return ()

    def typed_alternatives(self, lang: str) -> list[str]:
        """What may be typed instead of pressing each button, a line each (for the
        accessible profile, which writes every way to answer out)."""
        return []

    def prompt(self, lang: str, *, plain: bool = False) -> Message:
        lines = [self.wording(lang, plain=plain), self.hint(lang)]
        if self.optional:
            lines.append(say(lang, "hint_optional"))
        return Message("\n".join(lines), self.choices(lang, plain=plain))

    def accessible_prompt(self, lang: str) -> Message:
        """The question for someone with the accessible profile: in plain words where the
        survey has them, every choice written out as what to type, and skip a button too."""
        asked = self.prompt(lang, plain=True)
        lines = [self.wording(lang, plain=True), *self.typed_alternatives(lang), self.hint(lang)]
        choices = asked.choices
        if self.optional:
            lines.append(say(lang, "hint_optional"))
            if not asked.multiple:  # ticks are sent together: a skip among them would be one
                choices = (*choices, Choice(say(lang, "skip_label"), "cmd:skip"))
        return replace(asked, text="\n".join(lines), choices=choices, numbered=False)

    # Which read-back sentence says the answer: "You chose …", "You wrote …".
    read_back_key: ClassVar[str] = "read_back"

    def read_back(self, value: AnswerValue, lang: str) -> str:
        """An answer as it is read back before it is kept (the accessible profile)."""
        return self.shown(value, lang)

    # -- showing what was stored -------------------------------------------------------

    def shown(self, value: AnswerValue, lang: str) -> str:
        """A stored answer as the participant would recognise it (`my data`)."""
        return say(lang, "skipped") if value is None else str(value)

    def cell(self, value: AnswerValue, lang: str) -> Any:
        """A stored answer in the CSV export: '' when there is none."""
        return "" if value is None else value

    def summary(self, given: Given, skipped: int, lang: str) -> Summary:
        """The digest's figures for the answers given."""
        raise NotImplementedError

    def summary_base(self, given: Given, skipped: int, lang: str) -> dict:
        return {
            "question_id": self.id,
            "text": self.text[lang],
            "answered": answered(given),
            "skipped": skipped,
        }

    # -- survey checks -------------------------------------------------------------------

    def translated(self) -> Iterator[tuple[str, Texts | None]]:
        """Every text of the question with its name, to check that each language has it."""
        yield "text", self.text
        yield "help", self.help

    def plain_texts(self) -> Iterator[tuple[str, Texts]]:
        """Its plain-language texts with their names, for the plain-language check."""
        if self.plain:
            yield "plain", self.plain

    def problems(self) -> Iterator[tuple[str, str]]:
        """What is wrong with the question beyond its structure: (severity, message)."""
        for rule in self.branch:
            yield from self.branch_problems(rule)

    def branch_problems(self, rule: Branch) -> Iterator[tuple[str, str]]:
        """Why `rule` cannot apply to this type of question; types that branch override."""
        if rule.any_of is not None:
            yield "error", "any_of branches need a choice question; use at_most/at_least"
        if rule.at_most is not None or rule.at_least is not None:
            yield "error", "at_most/at_least branches need a scale or number question"
