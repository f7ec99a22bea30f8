"""Themes gather what people wrote in different forms of the same words."""

from __future__ import annotations

import pytest

from conversations.themes import themes

CASES = [
    (
        "fi",
        ["Aukioloajat ovat liian lyhyet", "Pidemmät aukioloajat", "Aukioloaikoja lisää kiitos"],
        (("aukioloajat", 3),),
    ),
    ("fi", ["Kirjastossa on hyvä olla", "Kirjastoon on pitkä matka"], (("kirjastossa", 2),)),
    ("sv", ["Öppettiderna är för korta", "längre öppettider tack"], (("öppettiderna", 2),)),
    (
        "en",
        ["Longer opening hours on Sundays", "The opening hours are too short", "More books"],
        (("opening hours", 2),),  # the phrase stands for its two words
    ),
    (
        "en",
        ["Staff were kind", "Friendly staff, long queue", "Queue too long"],
        (("long", 2), ("queue", 2), ("staff", 2)),
    ),
]


@pytest.mark.parametrize(("lang", "texts", "expected"), CASES)
def test_recurring_words_and_phrases_are_themes(lang: str, texts: list[str], expected) -> None:
    assert themes([(text, 1) for text in texts], lang) == expected


def test_a_word_said_once_is_no_theme() -> None:
    assert themes([("Books", 1), ("Music", 1), ("Films", 1)], "en") == ()
