"""Questions answered in the participant's own words."""

from __future__ import annotations

import re
from collections import Counter
from typing import Literal

from pydantic import Field

from conversations.messages import say
from conversations.questions.base import AnswerValue, Asking, Given, Invalid, QuestionBase
from conversations.summary import Summary
from conversations.text import fold

MAX_QUOTES = 3
MAX_QUOTE_LENGTH = 200
MAX_THEMES = 5

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

    def summary(self, given: Given, skipped: int, new: frozenset[int], lang: str) -> Summary:
        texts = [(rid, str(v)) for rid, v in given]
        return Summary(
            **self.summary_base(given, skipped, lang),
            themes=_themes([t for _, t in texts]),
            quotes=_quotes(texts, new),
        )


def _themes(texts: list[str]) -> tuple[tuple[str, int], ...]:
    """Words that recur across answers (counted once per answer), most frequent first."""
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update({fold(w) for w in _WORD.findall(text)} - _STOPWORDS)
    recurring = [(word, n) for word, n in counts.items() if n >= 2]
    recurring.sort(key=lambda item: (-item[1], item[0]))
    return tuple(recurring[:MAX_THEMES])


def _quotes(texts: list[tuple[int, str]], new: frozenset[int]) -> tuple[str, ...]:
    """A few answers in the participants' own words, new ones first, longest first."""
    ordered = sorted(texts, key=lambda item: (item[0] not in new, -len(item[1]), item[0]))
    quotes = []
    for _, text in ordered[:MAX_QUOTES]:
        flat = " ".join(text.split())
        quotes.append(flat if len(flat) <= MAX_QUOTE_LENGTH else flat[: MAX_QUOTE_LENGTH - 1] + "…")
    return tuple(quotes)
