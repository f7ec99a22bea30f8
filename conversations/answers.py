"""Turning what a participant typed or clicked into an answer value, and where it leads."""

from __future__ import annotations

import re
from dataclasses import dataclass

from conversations.messages import say
from conversations.survey import (
    AnyQuestion,
    Branch,
    MultipleChoice,
    Number,
    Option,
    Scale,
    SingleChoice,
    Survey,
)
from conversations.text import fold, parse_number

AnswerValue = str | int | float | list[str] | None

_LIST_SEPARATORS = re.compile(r"\s*[,;/&+]\s*")
_WORD_SEPARATORS = re.compile(r"\s+(?:and|ja|och)\s+|\s+")
_SCALE_ANSWER = re.compile(r"^(-?\d{1,6})(?:\s*(?:/|of|out of)\s*\d{1,6})?$")


@dataclass(frozen=True, slots=True)
class Invalid:
    reason: str


def parse(question: AnyQuestion, text: str, lang: str) -> AnswerValue | Invalid:
    """The answer `text` gives to `question`, or why it is not one."""
    if not text:
        return Invalid(say(lang, "empty"))
    if isinstance(question, SingleChoice):
        found = _match_option(question.options, text, lang)
        return found.id if isinstance(found, Option) else found
    if isinstance(question, MultipleChoice):
        return _parse_multiple(question, text, lang)
    if isinstance(question, Scale):
        return _parse_scale(question, text, lang)
    if isinstance(question, Number):
        return _parse_number(question, text, lang)
    if len(text) > question.max_length:
        return Invalid(say(lang, "text_too_long", length=len(text), limit=question.max_length))
    return text


def from_action(question: AnyQuestion, raw: str, lang: str) -> AnswerValue | Invalid:
    """The answer a button's value carries; buttons only offer valid answers."""
    if isinstance(question, SingleChoice | MultipleChoice):
        ids = raw.split(",") if raw else []  # no boxes ticked: too few, below
        known = {o.id for o in question.options}
        if any(i not in known for i in ids) or (not ids and isinstance(question, SingleChoice)):
            return Invalid(say(lang, "invalid_choice"))
        if isinstance(question, SingleChoice):
            return ids[0]
        return _check_count(question, [o.id for o in question.options if o.id in ids], lang)
    return parse(question, raw, lang)


def next_question(survey: Survey, question: AnyQuestion, value: AnswerValue) -> str:
    """The id of the question after `question` given `value`, or END."""
    if value is not None:
        for rule in question.branch:
            if _branch_matches(rule, value):
                return rule.goto
    return question.next or survey.after(question.id)


def _branch_matches(rule: Branch, value: AnswerValue) -> bool:
    if rule.any_of is not None:
        chosen = value if isinstance(value, list) else [value]
        if not any(v in rule.any_of for v in chosen):
            return False
    if rule.at_most is not None and not (isinstance(value, int | float) and value <= rule.at_most):
        return False
    return rule.at_least is None or (isinstance(value, int | float) and value >= rule.at_least)


def _match_option(options: list[Option], text: str, lang: str) -> Option | Invalid:
    """By number, by text in any case or accents (in any language), or by a unique prefix."""
    folded = fold(text)
    if folded.isdecimal() and len(folded) <= 3:
        index = int(folded)
        if 1 <= index <= len(options):
            return options[index - 1]
        return Invalid(say(lang, "invalid_choice"))
    for option in options:
        if folded in option.names:
            return option
    if folded:
        starting = [o for o in options if o.folded[lang].startswith(folded)]
        if len(starting) == 1:
            return starting[0]
        if len(starting) > 1:
            listed = " / ".join(o.text[lang] for o in starting)
            return Invalid(say(lang, "ambiguous_choice", options=listed))
    return Invalid(say(lang, "invalid_choice"))


def _parse_multiple(question: MultipleChoice, text: str, lang: str) -> list[str] | Invalid:
    """Options separated by commas or the like; within a part, by 'and' or spaces if need be."""
    chosen: set[str] = set()
    for part in filter(None, _LIST_SEPARATORS.split(fold(text))):
        found = _match_option(question.options, part, lang)
        if isinstance(found, Invalid):
            pieces = [_match_option(question.options, p, lang) for p in _split_words(part)]
            if not pieces or any(isinstance(p, Invalid) for p in pieces):
                return found
            chosen.update(p.id for p in pieces)
        else:
            chosen.add(found.id)
    return _check_count(question, [o.id for o in question.options if o.id in chosen], lang)


def _split_words(part: str) -> list[str]:
    return [p for p in _WORD_SEPARATORS.split(part) if p]


def _check_count(question: MultipleChoice, ids: list[str], lang: str) -> list[str] | Invalid:
    high = question.max_choices or len(question.options)
    if not question.min_choices <= len(ids) <= high:
        return Invalid(say(lang, "invalid_choice_count", low=question.min_choices, high=high))
    return ids


def _parse_scale(question: Scale, text: str, lang: str) -> int | Invalid:
    match = _SCALE_ANSWER.match(fold(text))
    if match:
        value = int(match.group(1))
        if question.min <= value <= question.max:
            return value
    return Invalid(say(lang, "invalid_scale", low=question.min, high=question.max))


def _parse_number(question: Number, text: str, lang: str) -> int | float | Invalid:
    value = parse_number(text)
    if value is None:
        return Invalid(say(lang, "invalid_number"))
    if question.integer and not value.is_integer():
        return Invalid(say(lang, "invalid_whole_number"))
    low, high = question.min, question.max
    if (low is not None and value < low) or (high is not None and value > high):
        if low is not None and high is not None:
            return Invalid(say(lang, "number_out_of_range", low=f"{low:g}", high=f"{high:g}"))
        if low is not None:
            return Invalid(say(lang, "number_too_low", low=f"{low:g}"))
        return Invalid(say(lang, "number_too_high", high=f"{high:g}"))
    return int(value) if value.is_integer() else value
