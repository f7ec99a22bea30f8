"""Questions answered with a number: a point on a scale (1–5, 0–10), or any number."""

from __future__ import annotations

import re
import statistics
from collections import Counter
from collections.abc import Iterator
from typing import Literal

from pydantic import model_validator

from conversations.messages import say
from conversations.outgoing import Choice, Message, answer_action
from conversations.questions.base import (
    AnswerValue,
    Asking,
    Branch,
    Given,
    Invalid,
    QuestionBase,
    Texts,
    answered,
)
from conversations.summary import Count, Summary, percent
from conversations.text import fold, parse_number

_SCALE_ANSWER = re.compile(r"^(-?\d{1,6})(?:\s*(?:/|of|out of)\s*\d{1,6})?$")


class _Numeric(QuestionBase):
    def matches(self, rule: Branch, value: AnswerValue) -> bool:
        if not isinstance(value, int | float) or rule.any_of is not None:
            return False
        if rule.at_most is not None and value > rule.at_most:
            return False
        return rule.at_least is None or value >= rule.at_least

    def branch_problems(self, rule: Branch) -> Iterator[tuple[str, str]]:
        if rule.any_of is not None:
            yield "error", "any_of branches need a choice question; use at_most/at_least"

    def _figures(self, given: Given, skipped: int, lang: str) -> dict:
        counts = sorted((float(value), count) for value, count, _ in given)
        people = sum(count for _, count in counts)
        return {
            **self.summary_base(given, skipped, lang),
            "mean": sum(v * n for v, n in counts) / people if people else None,
            "median": _median(counts, people) if people else None,
        }


class Scale(_Numeric):
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

    def parse(self, text: str, asking: Asking) -> AnswerValue | Invalid:
        match = _SCALE_ANSWER.match(fold(text))
        if match:
            value = int(match.group(1))
            if self.min <= value <= self.max:
                return value
        return Invalid(say(asking.lang, "invalid_scale", low=self.min, high=self.max))

    def hint(self, lang: str) -> str:
        hint = say(lang, "hint_scale", low=self.min, high=self.max)
        if self.min_label and self.max_label:
            labels = say(
                lang,
                "hint_scale_labels",
                low=self.min,
                high=self.max,
                low_label=self.min_label[lang],
                high_label=self.max_label[lang],
            )
            hint = f"{hint} {labels}"
        return hint

    def prompt(self, lang: str, *, plain: bool = False) -> Message:
        points = range(self.min, self.max + 1)
        choices = tuple(Choice(str(n), answer_action(self.id, str(n))) for n in points)
        return Message(super().prompt(lang, plain=plain).text, choices, numbered=False)

    read_back_key = "read_back_choice"

    def read_back(self, value: AnswerValue, lang: str) -> str:
        """The point chosen, with its label where it is an end that has one: "5, Very good"."""
        labels = {self.min: self.min_label, self.max: self.max_label}
        label = labels.get(value)
        return f"{value}, {label[lang]}" if label and lang in label else str(value)

    def summary(self, given: Given, skipped: int, lang: str) -> Summary:
        counts: Counter[int] = Counter()
        for value, count, _ in given:
            counts[int(value)] += count
        people = answered(given)
        return Summary(
            **self._figures(given, skipped, lang),
            counts=tuple(
                Count(str(p), counts[p], percent(counts[p], people), key=str(p))
                for p in range(self.min, self.max + 1)
            ),
            bars=True,
            charted=True,
        )

    def translated(self) -> Iterator[tuple[str, Texts | None]]:
        yield from super().translated()
        yield "min_label", self.min_label
        yield "max_label", self.max_label


class Number(_Numeric):
    type: Literal["number"]
    min: float | None = None
    max: float | None = None
    integer: bool = False

    @model_validator(mode="after")
    def _bounds(self) -> Number:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"number min {self.min:g} is greater than max {self.max:g}")
        return self

    def parse(self, text: str, asking: Asking) -> AnswerValue | Invalid:
        lang = asking.lang
        value = parse_number(text)
        if value is None:
            return Invalid(say(lang, "invalid_number"))
        if self.integer and not value.is_integer():
            return Invalid(say(lang, "invalid_whole_number"))
        low, high = self.min, self.max
        if (low is not None and value < low) or (high is not None and value > high):
            if low is not None and high is not None:
                return Invalid(say(lang, "number_out_of_range", low=f"{low:g}", high=f"{high:g}"))
            if low is not None:
                return Invalid(say(lang, "number_too_low", low=f"{low:g}"))
            return Invalid(say(lang, "number_too_high", high=f"{high:g}"))
        return int(value) if value.is_integer() else value

    def hint(self, lang: str) -> str:
        if self.min is not None and self.max is not None:
            return say(lang, "hint_number_range", low=f"{self.min:g}", high=f"{self.max:g}")
        return say(lang, "hint_number")

    def summary(self, given: Given, skipped: int, lang: str) -> Summary:
        return Summary(**self._figures(given, skipped, lang))


def _median(counts: list[tuple[float, int]], people: int) -> float:
    """The median of values given `count` times each, in order."""
    middle = [(people - 1) // 2, people // 2]  # the one or two values in the middle
    found: list[float] = []
    seen = 0
    for value, count in counts:
        while middle and middle[0] < seen + count:
            found.append(value)
            middle.pop(0)
        seen += count
    return statistics.fmean(found)
