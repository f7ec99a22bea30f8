"""Questions answered in the participant's own words."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from conversations.messages import say
from conversations.questions.base import AnswerValue, Asking, Given, Invalid, QuestionBase
from conversations.summary import Summary
from conversations.themes import is_sampled, theme_key, themes

MAX_QUOTES = 3
MAX_QUOTE_LENGTH = 200


class FreeText(QuestionBase):
    citizen_words = True
    type: Literal["text"]
    max_length: int = Field(default=1000, ge=1, le=10_000)

    def parse(self, text: str, asking: Asking) -> AnswerValue | Invalid:
        if len(text) > self.max_length:
            return Invalid(
                say(asking.lang, "text_too_long", length=len(text), limit=self.max_length)
            )
        return text

    def hint(self, lang: str) -> str:
        return say(lang, "hint_text", limit=self.max_length)

    read_back_key = "read_back_text"

    def summary(self, given: Given, skipped: int, lang: str) -> Summary:
        texts = [(str(value), count, new) for value, count, new in given]
        counted = [(text, count) for text, count, _ in texts]
        found = themes(counted, lang)
        return Summary(
            **self.summary_base(given, skipped, lang),
            themes=found,
            themes_estimated=is_sampled(counted),
            theme_quotes=tuple(_saying(form, texts) for form, _ in found),
            theme_keys=tuple(theme_key(form, lang) for form, _ in found),
            quotes=_quotes(texts),
        )


def _saying(form: str, texts: list[tuple[str, int, int]]) -> str:
    """The shortest answer of a few words that says the theme: the one to quote for it."""
    saying = [text for text, _, _ in texts if form in text.lower()]
    fuller = [text for text in saying if len(text.split()) >= 3] or saying
    return flat(min(fuller, key=len)) if fuller else ""


def flat(text: str, limit: int = MAX_QUOTE_LENGTH) -> str:
    """An answer as a quote: on one line, and cut at `limit` characters if longer."""
    one_line = " ".join(text.split())
    if len(one_line) <= limit:
        return one_line
    return one_line[: limit - 1] + "…"


def _quotes(texts: list[tuple[str, int, int]]) -> tuple[str, ...]:
    """A few answers in the participants' own words, new ones first, longest first."""
    ordered = sorted(texts, key=lambda item: (not item[2], -len(item[0]), item[0]))
    quotes: list[str] = []
    for text, _, _ in ordered:
        quote = flat(text)
        if quote not in quotes:  # the same words from several people are quoted once
            quotes.append(quote)
        if len(quotes) == MAX_QUOTES:
            break
    return tuple(quotes)
