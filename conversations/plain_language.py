"""The plain-language report of `civicbot surveys check`: long sentences and rare words in
the texts a survey gives for people with the accessible profile (its `plain:` texts).

Word frequencies come from wordfreq, which knows how often a word is used across books,
subtitles, the web and news in some forty languages. Its lists for English, Finnish and
Swedish take 0.4 s and some 150 MiB to load, so the check runs only when a person asks
for it (`civicbot surveys check`), never as surveys load.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from conversations.survey import Survey

# Easy-to-read guides (Inclusion Europe's, Selkokeskus's, plainlanguage.gov) ask for short
# sentences, one thing each; 15 words is where most of them say a sentence grows long.
LONGEST_SENTENCE = 15

# A word is rare below this Zipf frequency (3 = once per million words). Finnish and Swedish
# inflect and compound, so a common word's forms each count for less than in English.
RARE_BELOW = {"en": 3.5, "sv": 3.0, "fi": 2.5}
RARE_BELOW_ELSEWHERE = 3.0

_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|\n+")
# Letters, joined by hyphens; an apostrophe splits ("library's": library, s), as in
# wordfreq's own counts.
_WORD = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*")


@dataclass(frozen=True, slots=True)
class PlainText:
    """One plain-language text of a survey: where it is, its language and its words."""

    question: str | None  # None for the survey's own intro, consent and thanks
    name: str  # "plain intro", "plain", "option study plain"
    lang: str
    text: str


def plain_texts(survey: Survey) -> Iterator[PlainText]:
    for name in ("intro", "consent", "thanks"):
        for lang, text in (getattr(survey.plain, name) or {}).items():
            yield PlainText(None, f"plain {name}", lang, text)
    for question in survey.questions:
        for name, texts in question.plain_texts():
            for lang, text in texts.items():
                yield PlainText(question.id, name, lang, text)


def long_sentences(text: str) -> list[tuple[int, str]]:
    """The sentences of `text` longer than plain language allows: (words, its opening)."""
    found = []
    for sentence in _SENTENCE_END.split(text.strip()):
        words = [w for w in sentence.split() if any(c.isalnum() for c in w)]
        if len(words) > LONGEST_SENTENCE:
            found.append((len(words), " ".join(words[:6])))
    return found


def rare_words(text: str, lang: str, *, known: frozenset[str] = frozenset()) -> list[str]:
    """The words of `text` that are rare in `lang`, each once, in the order they come.
    `known` words (the survey's keyword, say) are the survey's own and never rare."""
    from wordfreq import zipf_frequency  # loaded only when a survey is checked

    threshold = RARE_BELOW.get(lang, RARE_BELOW_ELSEWHERE)
    rare: dict[str, None] = {}
    for word in _WORD.findall(text):
        folded = word.casefold()
        if folded in known or folded in rare:
            continue
        if zipf_frequency(folded, lang) < threshold:
            rare[folded] = None
    return list(rare)


def knows_language(lang: str) -> bool:
    from wordfreq import available_languages

    return lang in available_languages()


def report(survey: Survey) -> Iterator[tuple[str | None, str]]:
    """What to tell the survey's author about its plain texts: (question or None, message)."""
    known = frozenset({survey.keyword.casefold()} if survey.keyword else ())
    unknown_languages: set[str] = set()
    for plain in plain_texts(survey):
        where = f"{plain.name} ({plain.lang})"
        for count, opening in long_sentences(plain.text):
            yield (
                plain.question,
                (
                    f"{where}: a sentence of {count} words ('{opening} …'); plain language keeps "
                    f"to {LONGEST_SENTENCE} or fewer, one thing per sentence"
                ),
            )
        if not knows_language(plain.lang):
            unknown_languages.add(plain.lang)
            continue
        if rare := rare_words(plain.text, plain.lang, known=known):
            yield (
                plain.question,
                (f"{where}: rare words, which many readers may not know: {', '.join(rare)}"),
            )
    for lang in sorted(unknown_languages):
        yield None, f"no word list for '{lang}': its plain texts were checked for length only"
