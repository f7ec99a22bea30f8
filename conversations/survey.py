"""The survey model: what a survey file may say, checked structurally by pydantic.

Cross-question rules (branch targets, loops, translations) live in
`conversations.checks`, which reports every problem at once instead of the first.
"""

from __future__ import annotations

from functools import cached_property
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from conversations.text import fold

Identifier = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$", strict=True)]
LanguageCode = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}$", strict=True)]
# language code -> text in that language
Texts = dict[LanguageCode, Annotated[str, StringConstraints(min_length=1, max_length=2000)]]

END = "end"  # a branch or `next` target that finishes the survey
MAX_QUESTIONS = 100


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Option(_Model):
    id: Identifier
    text: Texts

    @cached_property
    def names(self) -> frozenset[str]:
        """Everything that picks this option when typed, folded: its texts and its id."""
        return frozenset({fold(t) for t in self.text.values()} | {fold(self.id)})

    @cached_property
    def folded(self) -> dict[str, str]:
        """Its text per language, folded, for prefix matching."""
        return {lang: fold(text) for lang, text in self.text.items()}


class Branch(_Model):
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


class _Question(_Model):
    id: Identifier
    text: Texts
    help: Texts | None = None
    optional: bool = False
    next: Identifier | None = None
    branch: list[Branch] = Field(default_factory=list)


class SingleChoice(_Question):
    type: Literal["single_choice"]
    options: list[Option] = Field(min_length=2, max_length=20)


class MultipleChoice(_Question):
    type: Literal["multiple_choice"]
    options: list[Option] = Field(min_length=2, max_length=20)
    min_choices: int = Field(default=1, ge=1)
    max_choices: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _choice_bounds(self) -> MultipleChoice:
        top = self.max_choices if self.max_choices is not None else len(self.options)
        if not self.min_choices <= top <= len(self.options):
            raise ValueError(
                f"min_choices {self.min_choices} and max_choices {top} must satisfy "
                f"1 <= min_choices <= max_choices <= {len(self.options)} (the number of options)"
            )
        return self


class Scale(_Question):
    type: Literal["scale"]
    min: int = 1
    max: int = 5
    min_label: Texts | None = None
    max_label: Texts | None = None

    @model_validator(mode="after")
    def _bounds(self) -> Scale:
        if not (0 <= self.min < self.max and self.max - self.min <= 10):
            raise ValueError(
                f"scale min {self.min} and max {self.max} must satisfy 0 <= min < max "
                "with at most 11 points (e.g. 1-5 or 0-10)"
            )
        return self


class FreeText(_Question):
    type: Literal["text"]
    max_length: int = Field(default=1000, ge=1, le=10_000)


class Number(_Question):
    type: Literal["number"]
    min: float | None = None
    max: float | None = None
    integer: bool = False

    @model_validator(mode="after")
    def _bounds(self) -> Number:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"number min {self.min:g} is greater than max {self.max:g}")
        return self


AnyQuestion = SingleChoice | MultipleChoice | Scale | FreeText | Number
Question = Annotated[AnyQuestion, Field(discriminator="type")]


class DigestExtras(_Model):
    """What a digest brings besides its text, where the platform takes files."""

    chart: bool = False  # a PNG bar chart of the choice and scale questions
    csv: bool = False  # the run's answers so far, as in `survey export`


class Survey(_Model):
    id: Identifier
    title: Texts
    languages: list[LanguageCode] = Field(min_length=1)
    keyword: Annotated[str, StringConstraints(min_length=2, max_length=40)] | None = None
    anonymous: bool = False
    intro: Texts | None = None
    consent: Texts | None = None
    thanks: Texts | None = None
    questions: list[Question] = Field(min_length=1)
    digest: DigestExtras = DigestExtras()

    @property
    def default_language(self) -> str:
        return self.languages[0]

    def question(self, question_id: str) -> AnyQuestion:
        return self._by_id[question_id]

    def after(self, question_id: str) -> str:
        """The question that follows `question_id` in file order, or END."""
        index = self._order[question_id] + 1
        return self.questions[index].id if index < len(self.questions) else END

    @cached_property
    def prompt_cache(self) -> dict[tuple[str, str], object]:
        """Question prompts by (question id, language), filled by the engine as it asks."""
        return {}

    @cached_property
    def _by_id(self) -> dict[str, AnyQuestion]:
        return {q.id: q for q in self.questions}

    @cached_property
    def _order(self) -> dict[str, int]:
        return {q.id: i for i, q in enumerate(self.questions)}
