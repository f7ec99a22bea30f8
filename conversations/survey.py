"""The survey model: what a survey file may say, checked structurally by pydantic.

Cross-question rules (branch targets, loops, translations) live in
`conversations.checks`, which reports every problem at once instead of the first.
"""

from __future__ import annotations

from functools import cached_property
from typing import Annotated

from pydantic import Field, StringConstraints

from conversations.questions import (
    AnswerValue,
    AnyQuestion,
    Identifier,
    LanguageCode,
    Model,
    Question,
    Texts,
)

END = "end"  # a branch or `next` target that finishes the survey
MAX_QUESTIONS = 100


class DigestExtras(Model):
    """What a digest brings besides its text, where the platform takes files."""

    chart: bool = False  # a PNG bar chart of the choice and scale questions
    csv: bool = False  # the run's answers so far, as in `survey export`


class Survey(Model):
    id: Identifier
    title: Texts
    languages: list[LanguageCode] = Field(min_length=1)
    keyword: Annotated[str, StringConstraints(min_length=2, max_length=40)] | None = None
    anonymous: bool = False
    # No count below this is shown to staff, nor a quote before this many have completed.
    min_group_size: int = Field(default=5, ge=1, le=100)
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
    def prompt_cache(self) -> dict[tuple[str, str], object]:
        """Question prompts by (question id, language), filled by the engine as it asks."""
        return {}

    @cached_property
    def _by_id(self) -> dict[str, AnyQuestion]:
        return {q.id: q for q in self.questions}

    @cached_property
    def _order(self) -> dict[str, int]:
        return {q.id: i for i, q in enumerate(self.questions)}
