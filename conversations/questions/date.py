"""Questions answered with a day: typed as the participant's language writes dates
(3.12.2026, 3 December 2026, 3. joulukuuta), as 2026-12-03, or as today or yesterday.

Month names and the long written form of a date come from the CLDR data that
Babel ships, so every language the bot speaks has them; Babel is imported only
when a date is read or shown. Dates are stored as ISO strings (2026-12-03).
"""

from __future__ import annotations

import datetime
import functools
import re
from collections import Counter
from typing import Literal

from pydantic import model_validator

from conversations.messages import DAY_WORDS, LANGUAGE_NAMES, say
from conversations.questions.base import (
    AnswerValue,
    Asking,
    Given,
    Invalid,
    QuestionBase,
    answered,
)
from conversations.summary import Count, Summary, percent
from conversations.text import fold

Bound = datetime.date | Literal["today"]

_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_DAY_FIRST = re.compile(r"^(\d{1,2})\.\s*(\d{1,2})(?:\.\s*(\d{2}|\d{4}))?$")
_TOKEN = re.compile(r"\d+|[^\W\d_]+")
_FILLER = frozenset({"st", "nd", "rd", "th", "of", "the", "den"})  # 3rd of December
# Babel's locale for each language code where the plain code is not the one people use
_LOCALES = {"en": "en_GB"}


class DateQuestion(QuestionBase):
    type: Literal["date"]
    earliest: Bound | None = None
    latest: Bound | None = None

    @model_validator(mode="after")
    def _bounds(self) -> DateQuestion:
        low, high = self.earliest, self.latest
        if isinstance(low, datetime.date) and isinstance(high, datetime.date) and low > high:
            raise ValueError(f"date earliest {low} is after latest {high}")
        return self

    def parse(self, text: str, asking: Asking) -> AnswerValue | Invalid:
        lang, today = asking.lang, asking.today
        low, high = self._range(today)
        read = _read(fold(text), today, (low, high))
        if isinstance(read, str):
            return Invalid(say(lang, read))
        if (low and read < low) or (high and read > high):
            return Invalid(self._bounds_text(lang) or say(lang, "invalid_date"))
        return read.isoformat()

    def _range(self, today: datetime.date) -> tuple[datetime.date | None, datetime.date | None]:
        return _resolved(self.earliest, today), _resolved(self.latest, today)

    def hint(self, lang: str) -> str:
        bounds = self._bounds_text(lang)
        return f"{say(lang, 'hint_date')} {bounds}" if bounds else say(lang, "hint_date")

    def _bounds_text(self, lang: str) -> str:
        low, high = (_written(b, lang) for b in (self.earliest, self.latest))
        if low and high:
            return say(lang, "date_bounds", earliest=low, latest=high)
        if low:
            return say(lang, "date_from", earliest=low)
        if high:
            return say(lang, "date_until", latest=high)
        return ""

    def shown(self, value: AnswerValue, lang: str) -> str:
        if value is None:
            return say(lang, "skipped")
        return _long(datetime.date.fromisoformat(str(value)), lang)

    def summary(self, given: Given, skipped: int, lang: str) -> Summary:
        days = sorted(datetime.date.fromisoformat(str(v)) for v, _, _ in given)
        months: Counter[str] = Counter()
        for value, count, _ in given:
            months[str(value)[:7]] += count  # ISO dates: the month is their start
        facts = (
            (("earliest", days[0].isoformat()), ("latest", days[-1].isoformat())) if days else ()
        )
        people = answered(given)
        return Summary(
            **self.summary_base(given, skipped, lang),
            counts=tuple(
                Count(month, n, percent(n, people), key=month)
                for month, n in sorted(months.items())
            ),
            bars=True,
            charted=True,
            facts=facts,
        )


def _resolved(bound: Bound | None, today: datetime.date) -> datetime.date | None:
    return today if bound == "today" else bound  # type: ignore[return-value]


def _written(bound: Bound | None, lang: str) -> str:
    if bound is None:
        return ""
    return say(lang, "today") if bound == "today" else _long(bound, lang)  # type: ignore[arg-type]


def _read(
    folded: str, today: datetime.date, bounds: tuple[datetime.date | None, datetime.date | None]
) -> datetime.date | str:
    """The day `folded` names, or the key of the message that says why it names none."""
    if folded in DAY_WORDS:
        return today + datetime.timedelta(days=DAY_WORDS[folded])
    if match := _ISO.match(folded):
        year, month, day = (int(part) for part in match.groups())
    elif match := _DAY_FIRST.match(folded):
        day, month = int(match.group(1)), int(match.group(2))
        year = _full_year(match.group(3))
    else:
        named = _named(folded)
        if named is None:
            return "invalid_date"
        day, month, year = named
    try:
        if year is not None:
            return datetime.date(year, month, day)
        return _nearest(day, month, today, bounds)
    except ValueError:
        return "no_such_date"


def _full_year(written: str | None) -> int | None:
    if written is None:
        return None
    return int(written) + 2000 if len(written) == 2 else int(written)


def _named(folded: str) -> tuple[int, int, int | None] | None:
    """(day, month, year or None) of '3 december 2026', 'december 3', '3. joulukuuta'."""
    month = None
    numbers: list[int] = []
    for token in _TOKEN.findall(folded):
        if token.isdecimal():
            numbers.append(int(token))
        elif token in _FILLER:
            continue
        elif month is None and (found := _month_named(token)) is not None:
            month = found
        else:
            return None
    if month is None or not numbers or len(numbers) > 2:
        return None
    day, *rest = numbers
    if rest and rest[0] < 1000:
        return None
    return day, month, rest[0] if rest else None


def _month_named(token: str) -> int | None:
    """The month a word names in any language the bot speaks: a name in any of its forms,
    a name with an ending (joulukuun: the longest name it starts with), or a clear
    abbreviation (decem)."""
    names = _month_names()
    if token in names:
        return names[token]
    inflected = [(len(name), month) for name, month in names.items() if token.startswith(name)]
    if inflected:
        return max(inflected)[1]
    if len(token) < 3:
        return None
    shortened = {month for name, month in names.items() if name.startswith(token)}
    return shortened.pop() if len(shortened) == 1 else None


@functools.cache
def _month_names() -> dict[str, int]:
    from babel.dates import get_month_names  # CLDR data: loaded when a date is first read

    names: dict[str, int] = {}
    for lang in LANGUAGE_NAMES:
        for width in ("wide", "abbreviated"):
            for context in ("format", "stand-alone"):
                for month, name in get_month_names(
                    width, context, _LOCALES.get(lang, lang)
                ).items():
                    if len(fold(name)) >= 3:
                        names[fold(name)] = month
    return names


def _nearest(
    day: int,
    month: int,
    today: datetime.date,
    bounds: tuple[datetime.date | None, datetime.date | None],
) -> datetime.date:
    """A day written without its year: this year's, unless only last or next year's
    falls within the question's bounds."""
    low, high = bounds
    candidates = [datetime.date(today.year + offset, month, day) for offset in (0, -1, 1)]
    within = [d for d in candidates if (low is None or d >= low) and (high is None or d <= high)]
    return within[0] if within else candidates[0]


def _long(day: datetime.date, lang: str) -> str:
    from babel.dates import format_date

    try:
        return format_date(day, "long", locale=_LOCALES.get(lang, lang))
    except (ValueError, LookupError):  # a language Babel does not know
        return day.isoformat()
