"""Themes: what recurs across people's answers, as words and two-word phrases.

Words are stemmed with the Snowball stemmer of the digest's language (so hours
and hour, kirjastossa and kirjastoon are one word), and stems that differ only
in their last few letters are taken as one (aukioloajat and aukioloaikoja: the
Finnish stemmer leaves consonant gradation alone). A theme counts the answers
that mention it, once each, and is shown in the form people wrote most. A phrase
that recurs as often as its words stands for them.
"""

from __future__ import annotations

import functools
import random
import re
from collections import Counter
from collections.abc import Callable

# Imported with the bot, not at the first digest, which it would stall: with PyStemmer
# installed it is that C library's, whose stemmers load when asked for; without, its
# package imports thirty languages' stemmers in Python (23 ms, 3 MiB).
import snowballstemmer

from conversations.text import fold

MAX_THEMES = 5
SAMPLE = 5_000  # distinct answers read for themes at most
_STEMMERS = {"en": "english", "fi": "finnish", "sv": "swedish"}
_SHARED_PREFIX = 6  # letters two stems must share to be one word...
_DIFFERENT_ENDING = 3  # ...with at most this many letters of either beyond them
_WORD = re.compile(r"[^\W\d_]{3,}", re.UNICODE)
_TOKEN = re.compile(r"[^\W\d_]+|\d+", re.UNICODE)

# Words too common to be a theme, in the languages the bot speaks.
STOPWORDS = frozenset(
    fold(word)
    for line in (
        "the a an and or but if of to in on at for with from by is are was were be been it its",
        "this that these those i you he she we they me my our your their not no yes so very",
        "more less can could would should will just also than then there here what when how",
        "too are have has had",
        "ja tai mutta on ei se ne että kun jos niin myös kuin mitä ole oli olla minä sinä hän",
        "me te he tämä tuo siellä täällä enemmän vähemmän liian ovat",
        "och eller men är inte det den de att när om så också än vad var jag du han hon vi ni",
        "mer mindre har hade ska kan för",
    )
    for word in line.split()
)


def themes(texts: list[tuple[str, int]], lang: str) -> tuple[tuple[str, int], ...]:
    """The themes of these answers (each distinct text with how many gave it) with how
    many answers mention each, most first. Beyond SAMPLE distinct texts, a sample of
    them is read and its counts are scaled to all answers: estimates, and said so."""
    stem = _stemmer(lang)
    texts, scale = _sampled(texts)
    answers = [(_content_runs(text), count) for text, count in texts]
    canonical = _merged_stems({stem(w) for runs, _ in answers for run in runs for w, _ in run})
    counts: Counter[tuple[str, ...]] = Counter()
    forms: dict[tuple[str, ...], Counter[str]] = {}
    for runs, count in answers:
        seen: set[tuple[str, ...]] = set()
        for run in runs:
            keys = [canonical[stem(word)] for word, _ in run]
            for index, (_, written) in enumerate(run):
                _note((keys[index],), written, seen, forms)
                if index + 1 < len(run):
                    phrase = f"{written} {run[index + 1][1]}"
                    _note((keys[index], keys[index + 1]), phrase, seen, forms)
        for key in seen:
            counts[key] += count
    recurring = {key: round(n * scale) for key, n in counts.items() if n >= 2}
    for key, n in list(recurring.items()):
        if len(key) == 2:  # a phrase as frequent as its words stands for them
            for part in key:
                if recurring.get((part,)) == n:
                    del recurring[(part,)]
    ranked = sorted(
        ((forms[key].most_common(1)[0][0], n) for key, n in recurring.items()),
        key=lambda item: (-item[1], item[0]),
    )
    return tuple(ranked[:MAX_THEMES])


def theme_key(form: str, lang: str) -> str:
    """A theme's stems, which stay the same when next week's answers word it a little
    differently ("opening hours", "opening hour")."""
    stem = _stemmer(lang)
    return " ".join(stem(fold(word)) for word in form.split())


def _sampled(texts: list[tuple[str, int]]) -> tuple[list[tuple[str, int]], float]:
    """At most SAMPLE distinct texts, drawn by how often each was given, and by how much
    their counts are to be multiplied (1 when all are read)."""
    if not is_sampled(texts):
        return texts, 1.0
    total = sum(count for _, count in texts)
    drawn = random.Random(total).choices(texts, weights=[n for _, n in texts], k=SAMPLE)
    return [(text, 1) for text, _ in drawn], total / SAMPLE


def is_sampled(texts: list[tuple[str, int]]) -> bool:
    """Whether themes of these texts are counted in a sample (and so are estimates)."""
    return len(texts) > SAMPLE


def _note(key: tuple[str, ...], form: str, seen: set, forms: dict) -> None:
    seen.add(key)
    forms.setdefault(key, Counter())[form] += 1


def _content_runs(text: str) -> list[list[tuple[str, str]]]:
    """The answer's words of three letters or more (folded, and as written), in runs not
    broken by a common word, a number or a short word: the words that can make a phrase."""
    runs: list[list[tuple[str, str]]] = [[]]
    for token in _TOKEN.findall(text):
        word = fold(token)
        if _WORD.fullmatch(token) and word not in STOPWORDS:
            runs[-1].append((word, token.lower()))
        elif runs[-1]:
            runs.append([])
    return [run for run in runs if run]


def _merged_stems(stems: set[str]) -> dict[str, str]:
    """Each stem -> the stem it is taken as: neighbours in sorted order that share a long
    prefix and differ only at the end are one."""
    canonical: dict[str, str] = {}
    previous = None
    for current in sorted(stems):
        if previous is not None and _alike(canonical[previous], current):
            canonical[current] = canonical[previous]
        else:
            canonical[current] = current
        previous = current
    return canonical


def _alike(first: str, second: str) -> bool:
    shared = 0
    for a, b in zip(first, second, strict=False):
        if a != b:
            break
        shared += 1
    return shared >= _SHARED_PREFIX and max(len(first), len(second)) - shared <= _DIFFERENT_ENDING


@functools.cache
def _stemmer(lang: str) -> Callable[[str], str]:
    name = _STEMMERS.get(lang)
    if name is None:
        return lambda word: word
    # People use a few thousand words; stemming each once makes the stemmer's cost
    # that of a dictionary lookup, whatever the number of answers.
    return functools.lru_cache(maxsize=100_000)(snowballstemmer.stemmer(name).stemWord)
