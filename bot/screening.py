"""Abuse held for review: threats, death wishes and slurs kept out of what staff read.

An answer is held when it threatens someone ("I'll kill that carer", "tapan sinut",
"jag ska döda dig"), wishes someone dead, or uses a slur, in English, Finnish or
Swedish whatever the survey's language (people mix them). Criticism and swearing
about the service are not abuse: "the service is bloody awful" and "paska palvelu"
reach the digest. Held answers stay stored; the digest counts them and a moderator
reads each with `survey review RUN` and releases or keeps it.

Words are matched after undoing the usual disguises: upper case and accents,
leetspeak (k1ll, 5lut), letters spaced or dotted apart (k i l l, h.o.r.a) and
letters drawn out (kiiiill). A word list cannot tell every insult from a joke;
docs/privacy.md says what this does and does not catch.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from conversations.text import fold

THREAT = "threat"
SLUR = "slur"

_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a",
                       "$": "s", "!": "i", "€": "e"})  # fmt: skip
_SPACED = re.compile(r"\b(?:\w[ .\-_*]){2,}\w\b")  # k i l l, h.o.r.a
_DRAWN_OUT = re.compile(r"(\w)\1+")
_TOKEN = re.compile(r"\w+")

# Words that hurt people wherever they appear. A trailing * takes endings (Finnish
# and Swedish inflect): "huora*" is huoran, huoria; without it only the word itself.
SLURS = (
    "nigger*", "nigga*", "faggot*", "fag", "fags", "retard", "retards", "retarded",
    "tranny", "trannies", "spastic", "spaz", "whore*", "slut*", "cunt*", "paki", "pakis",
    "neekeri*", "hintti*", "huora*", "ryssä*", "mongoloidi*", "lutka*", "ämmänkänttyrä*",
    "neger", "negrer*", "blatte*", "hora", "horan", "horor*", "bögjävel*", "mongo",
    "svartskalle*", "fitta", "fittan",
)  # fmt: skip

# Doing violence to someone. The strong verbs are a threat when said as an intent
# (I'll, gonna, ska) or done to someone (stab him); the weak ones, which are also
# everyday words (beat the queue, it will hurt), only when both.
STRONG_VIOLENCE = (
    "kill", "kills", "killing", "murder*", "stab*", "strangle*", "tappaa", "tapetaan",
    "puukottaa", "kuristaa", "döda", "dödar", "mörda", "mördar", "knivhugga*", "strypa",
    "ihjäl",
)  # fmt: skip
WEAK_VIOLENCE = (
    "shoot", "beat", "punch", "hurt", "burn", "ampua", "hakata", "lyödä", "polttaa",
    "skjuta", "skjuter", "misshandla", "slå",
)  # fmt: skip
# Finnish says "I will kill" in one word: the verb is its own intent.
FIRST_PERSON = ("tapan", "puukotan", "kuristan", "ammun", "hakkaan", "lyön", "poltan")
PEOPLE = (
    "you", "him", "her", "them", "that", "carer*", "nurse*", "staff", "worker*",
    "manager*", "librarian*", "everyone", "everybody", "sinut", "sut", "sua", "hänet",
    "teidät", "heidät", "sen", "tuon", "ton", "hoitaja*", "työntekijä*", "johtaja*",
    "kaikki", "dig", "henne", "honom", "er", "dem", "personal*", "sköterska*",
    "bibliotekarie*", "alla",
)  # fmt: skip
# Saying one will do it, or that someone should have it done to them: before the verb.
INTENT = (
    "will", "ll", "gonna", "going", "should", "deserves", "deserve", "want", "aion",
    "pitäisi", "pitäis", "ansaitsee", "haluan", "ska", "kommer", "borde", "förtjänar",
    "vill",
)  # fmt: skip
# Wishing someone dead, as the phrases go.
DEATH_WISHES = (
    "hope you die", "hope she dies", "hope he dies", "hope they die", "kill yourself",
    "kys", "go die", "should die", "deserves to die", "toivottavasti kuolet", "kuole pois",
    "ansaitsee kuolla", "pitäisi kuolla", "tapa itsesi", "hoppas du dör", "dö bara",
    "ta livet av dig", "borde dö", "förtjänar att dö", "should be shot",
    "deserves to be shot", "pitäisi ampua", "borde skjutas",
)  # fmt: skip
_NEAR = 4  # words between the intent, the verb and whom it is done to, at most


@dataclass(frozen=True, slots=True)
class Held:
    reason: str  # THREAT or SLUR


def screened(text: str) -> Held | None:
    """Why the answer must be held for review, or None when staff may read it."""
    words = _words(text)
    joined = f" {' '.join(words)} "
    if not _lists().roots.search(joined):  # most answers: one regex search, nothing to hold
        return None
    lists = _lists()
    if any(lists.slurs.has(word) for word in words):
        return Held(SLUR)
    if any(f" {phrase} " in joined for phrase in lists.death_wishes):
        return Held(THREAT)
    if _threatens(words, lists, _names(text)):
        return Held(THREAT)
    return None


def _words(text: str) -> list[str]:
    """The answer's words, undisguised: folded, leetspeak read, spacing and drawn-out
    letters undone (the lists are matched without doubled letters too)."""
    plain = fold(text).translate(_LEET)
    plain = _SPACED.sub(lambda m: re.sub(r"[ .\-_*]", "", m.group(0)), plain)
    return [_squeezed(word) for word in _TOKEN.findall(plain)]


def _names(text: str) -> frozenset[str]:
    """Capitalised words not at the start of a sentence: most likely someone's name."""
    names = set()
    for match in _CAPITALISED.finditer(text):
        before = text[: match.start()].rstrip()
        if before and before[-1] not in ".!?:":
            names.add(_squeezed(match.group(0)))
    return frozenset(names)


def _threatens(words: list[str], lists: _Lists, names: frozenset[str]) -> bool:
    for index, word in enumerate(words):
        strong = lists.strong.has(word) or lists.first_person.has(word)
        if not strong and not lists.weak.has(word):
            continue
        intent = lists.first_person.has(word) or any(
            lists.intent.has(w) for w in words[max(0, index - _NEAR) : index]
        )
        someone = any(
            lists.people.has(w) or w in names for w in words[index + 1 : index + 1 + _NEAR]
        )
        if intent and someone:
            return True
        if strong and not lists.first_person.has(word) and (intent or someone):
            return True
    return False


def _squeezed(term: str) -> str:
    return _DRAWN_OUT.sub(r"\1", fold(term))


@dataclass(frozen=True, slots=True)
class _Terms:
    exact: frozenset[str]
    stems: tuple[str, ...]  # words with endings: huora* -> huoran, huoria

    @classmethod
    def of(cls, terms: tuple[str, ...]) -> _Terms:
        return cls(
            frozenset(_squeezed(t) for t in terms if not t.endswith("*")),
            tuple(_squeezed(t[:-1]) for t in terms if t.endswith("*")),
        )

    def has(self, word: str) -> bool:
        return word in self.exact or any(
            word.startswith(stem) and len(word) - len(stem) <= _ENDING for stem in self.stems
        )


@dataclass(frozen=True, slots=True)
class _Lists:
    slurs: _Terms
    strong: _Terms
    weak: _Terms
    first_person: _Terms
    people: _Terms
    intent: _Terms
    death_wishes: tuple[str, ...]
    roots: re.Pattern[str]


@functools.cache
def _lists() -> _Lists:
    death_wishes = tuple(" ".join(map(_squeezed, p.split())) for p in DEATH_WISHES)
    roots = {_squeezed(t.rstrip("*")).split()[0] for t in (*SLURS, *STRONG_VIOLENCE,
             *WEAK_VIOLENCE, *FIRST_PERSON)}  # fmt: skip
    roots |= {max(phrase.split(), key=len) for phrase in death_wishes}
    pattern = "|".join(sorted(map(re.escape, roots), key=len, reverse=True))
    return _Lists(
        slurs=_Terms.of(SLURS),
        strong=_Terms.of(STRONG_VIOLENCE),
        weak=_Terms.of(WEAK_VIOLENCE),
        first_person=_Terms.of(FIRST_PERSON),
        people=_Terms.of(PEOPLE),
        intent=_Terms.of(INTENT),
        death_wishes=death_wishes,
        roots=re.compile(rf" (?:{pattern})"),
    )


_ENDING = 5  # letters an inflected word may have beyond its listed stem
_CAPITALISED = re.compile(r"\b[A-ZÄÖÅ][a-zäöå]+\b")
