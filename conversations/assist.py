"""The two questions an intermediary answers before typing someone's answers: how the
person was reached, and whether they agreed. Pure: text in, what it means out."""

from __future__ import annotations

from conversations.messages import NO_WORDS, YES_WORDS, say
from conversations.outgoing import Choice, Message
from conversations.text import fold

REACHED = ("phone", "in_person", "home_visit")  # in the order the question offers them
_REACHED_WORDS = {
    fold(word): mode
    for mode, words in (
        ("phone", ["phone", "by phone", "telephone", "puhelin", "puhelimitse", "telefon"]),
        ("in_person", ["in person", "face to face", "kasvokkain", "personligen"]),
        (
            "home_visit",
            [
                "home visit",
                "on a home visit",
                "kotikäynti",
                "kotikäynnillä",
                "hembesök",
                "vid ett hembesök",
            ],
        ),
    )
    for word in words
}
DONE_WORDS = frozenset(fold(w) for w in ["done", "valmis", "klar"])


def reached_question(title: str, language: str) -> Message:
    choices = tuple(Choice(say(language, f"assist_{mode}"), mode) for mode in REACHED)
    return Message(say(language, "assist_reached", title=title), choices)


def reached_by(text: str, action: str | None) -> str | None:
    """How the person was reached, as the intermediary answered; None if unclear."""
    if action in REACHED:
        return action
    said = fold(text)
    if said.isdigit() and 1 <= int(said) <= len(REACHED):
        return REACHED[int(said) - 1]
    return _REACHED_WORDS.get(said)


def agreed(text: str) -> bool | None:
    said = fold(text)
    return True if said in YES_WORDS else False if said in NO_WORDS else None


def is_done(text: str) -> bool:
    return fold(text) in DONE_WORDS
