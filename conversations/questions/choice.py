"""Questions answered by choosing among options: one (single choice) or several."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from functools import cached_property
from typing import Literal

from pydantic import Field, model_validator

from conversations.choice_words import CONNECTORS, NUMBER_WORDS
from conversations.messages import COMMANDS, say
from conversations.outgoing import Choice, Message, answer_action
from conversations.questions.base import (
    AnswerValue,
    Asking,
    Branch,
    Given,
    Invalid,
    Option,
    QuestionBase,
    Texts,
    answered,
)
from conversations.summary import Count, Summary, percent
from conversations.text import fold

_LIST_SEPARATORS = re.compile(r"\s*[,;/&+]\s*")


class _Choosing(QuestionBase):
    options: list[Option] = Field(min_length=2, max_length=20)

    def label(self, option_id: str, lang: str) -> str:
        return self._labels.get((option_id, lang), option_id)

    @cached_property
    def _labels(self) -> dict[tuple[str, str], str]:
        # an export asks for a label per cell: hundreds of thousands of times
        return {(o.id, lang): text for o in self.options for lang, text in o.text.items()}

    def matches(self, rule: Branch, value: AnswerValue) -> bool:
        chosen = value if isinstance(value, list) else [value]
        return rule.any_of is not None and any(v in rule.any_of for v in chosen)

    def shown(self, value: AnswerValue, lang: str) -> str:
        if value is None:
            return say(lang, "skipped")
        chosen = value if isinstance(value, list) else [value]
        return ", ".join(self.label(c, lang) for c in chosen)

    def cell(self, value: AnswerValue, lang: str) -> str:
        if value is None:
            return ""
        chosen = value if isinstance(value, list) else [value]
        return "; ".join(self.label(c, lang) for c in chosen)

    read_back_key = "read_back_choice"

    def read_back(self, value: AnswerValue, lang: str) -> str:
        """Each choice by its number and its words: "4, Good"."""
        chosen = value if isinstance(value, list) else [value]
        place = {o.id: (number, o) for number, o in enumerate(self.options, start=1)}
        return "; ".join(f"{place[c][0]}, {place[c][1].wording(lang, plain=True)}" for c in chosen)

    def typed_alternatives(self, lang: str) -> list[str]:
        return [
            f"{number} = {o.wording(lang, plain=True)}"
            for number, o in enumerate(self.options, start=1)
        ]

    def summary(self, given: Given, skipped: int, lang: str) -> Summary:
        counts: Counter[str] = Counter()
        for value, count, _ in given:
            for option in value if isinstance(value, list) else [value]:
                counts[option] += count
        people = answered(given)
        return Summary(
            **self.summary_base(given, skipped, lang),
            counts=tuple(
                Count(o.text[lang], counts[o.id], percent(counts[o.id], people), key=o.id)
                for o in self.options
            ),
            charted=True,
        )

    def translated(self) -> Iterator[tuple[str, Texts | None]]:
        yield from super().translated()
        for option in self.options:
            yield f"option {option.id}", option.text

    def plain_texts(self) -> Iterator[tuple[str, Texts]]:
        yield from super().plain_texts()
        for option in self.options:
            if option.plain:
                yield f"option {option.id} plain", option.plain

    def problems(self) -> Iterator[tuple[str, str]]:
        yield from super().problems()
        ids = [o.id for o in self.options]
        for duplicate in sorted({i for i in ids if ids.count(i) > 1}):
            yield "error", f"option id '{duplicate}' is used twice"
        for option in self.options:
            if any(fold(t) in COMMANDS for t in option.text.values()):
                yield (
                    "warning",
                    f"option '{option.id}' reads as a command word; typing it runs the command",
                )

    def branch_problems(self, rule: Branch) -> Iterator[tuple[str, str]]:
        if rule.at_most is not None or rule.at_least is not None:
            yield "error", "at_most/at_least branches need a scale or number question"
        ids = {o.id for o in self.options}
        for unknown in [i for i in rule.any_of or [] if i not in ids]:
            yield "error", f"branch names option '{unknown}', which this question lacks"

    def _match(self, text: str, lang: str) -> Option | Invalid:
        """By number, by text in any case or accents (in any language), or by a unique prefix."""
        folded = fold(text)
        if folded.isdecimal() and len(folded) <= 3:
            index = int(folded)
            if 1 <= index <= len(self.options):
                return self.options[index - 1]
            return Invalid(say(lang, "invalid_choice"))
        for option in self.options:
            if folded in option.names:
                return option
        if folded in NUMBER_WORDS:  # "three", "kolme", "tredje"
            index = NUMBER_WORDS[folded]
            if index <= len(self.options):
                return self.options[index - 1]
            return Invalid(say(lang, "invalid_choice"))
        if folded:
            starting = [o for o in self.options if o.folded[lang].startswith(folded)]
            if len(starting) == 1:
                return starting[0]
            if len(starting) > 1:
                listed = " / ".join(o.text[lang] for o in starting)
                return Invalid(say(lang, "ambiguous_choice", options=listed))
        return Invalid(say(lang, "invalid_choice"))


class SingleChoice(_Choosing):
    type: Literal["single_choice"]

    def parse(self, text: str, asking: Asking) -> AnswerValue | Invalid:
        found = self._match(text, asking.lang)
        return found.id if isinstance(found, Option) else found

    def from_action(self, raw: str, asking: Asking) -> AnswerValue | Invalid:
        if raw not in {o.id for o in self.options}:
            return Invalid(say(asking.lang, "invalid_choice"))
        return raw

    def hint(self, lang: str) -> str:
        return say(lang, "hint_single")

    def choices(self, lang: str, *, plain: bool = False) -> tuple[Choice, ...]:
        return tuple(
            Choice(o.wording(lang, plain=plain), answer_action(self.id, o.id)) for o in self.options
        )


class MultipleChoice(_Choosing):
    type: Literal["multiple_choice"]
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

    def parse(self, text: str, asking: Asking) -> AnswerValue | Invalid:
        """Options separated by commas or the like, or by 'and' within a part ("borrowing
        books and events", "one and three", "1 ja 3"). What is not understood is named."""
        lang = asking.lang
        chosen: set[str] = set()
        unclear: list[str] = []
        for part in filter(None, _LIST_SEPARATORS.split(fold(text))):
            found = self._match(part, lang)  # the whole part first: "events and courses"
            if isinstance(found, Option):
                chosen.add(found.id)
                continue
            picked, missed = self._phrases(part.split(), lang)
            if not picked:
                return found  # nothing in it is an option: say so as for one answer
            chosen.update(picked)
            unclear += missed
        if unclear:
            return Invalid(say(lang, "choice_part_unclear", part=" ".join(unclear)))
        return self._counted([o.id for o in self.options if o.id in chosen], lang)

    def _phrases(self, words: list[str], lang: str) -> tuple[list[str], list[str]]:
        """The options in a run of words, longest names first, and the words that are none."""
        picked: list[str] = []
        missed: list[str] = []
        at = 0
        while at < len(words):
            if words[at] in CONNECTORS:
                at += 1
                continue
            for end in range(len(words), at + 1, -1):  # a name of several words
                phrase = " ".join(words[at:end])
                named = [o for o in self.options if phrase in o.names]
                if named:
                    picked.append(named[0].id)
                    at = end
                    break
            else:
                found = self._match(words[at], lang)
                if not isinstance(found, Option):
                    found = self._only_name_with(words[at], lang)
                if found is None:
                    missed.append(words[at])
                else:
                    picked.append(found.id)
                at += 1
        return picked, missed

    def _only_name_with(self, word: str, lang: str) -> Option | None:
        """The one option whose name has this word ("books": Borrowing books)."""
        if len(word) < 3:  # "a", "or", "to": in many names, telling nothing
            return None
        having = [o for o in self.options if word in o.folded[lang].split()]
        return having[0] if len(having) == 1 else None

    def from_action(self, raw: str, asking: Asking) -> AnswerValue | Invalid:
        ids = raw.split(",") if raw else []  # no boxes ticked: too few, below
        if any(i not in {o.id for o in self.options} for i in ids):
            return Invalid(say(asking.lang, "invalid_choice"))
        return self._counted([o.id for o in self.options if o.id in ids], asking.lang)

    def _counted(self, ids: list[str], lang: str) -> list[str] | Invalid:
        high = self.max_choices or len(self.options)
        if not self.min_choices <= len(ids) <= high:
            return Invalid(say(lang, "invalid_choice_count", low=self.min_choices, high=high))
        return ids

    def hint(self, lang: str) -> str:
        high = self.max_choices or len(self.options)
        if self.min_choices == 1 and high == len(self.options):
            return say(lang, "hint_multiple")
        return say(lang, "hint_multiple_limits", low=self.min_choices, high=high)

    def prompt(self, lang: str, *, plain: bool = False) -> Message:
        text = super().prompt(lang, plain=plain).text
        ticks = tuple(Choice(o.wording(lang, plain=plain), o.id) for o in self.options)
        send = say(lang, "send_choices")
        return Message(text, ticks, multiple=True, send_label=send, question=self.id)
