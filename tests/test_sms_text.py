"""Text messages counted as carriers count them: GSM-7 or UCS-2, and segments."""

from __future__ import annotations

import pytest

from adapters.sms_text import MESSAGE_LIMIT, as_text, segments, split
from conversations.outgoing import Choice, Message


@pytest.mark.parametrize(
    ("text", "encoding", "count"),
    [
        ("a" * 160, "GSM-7", 1),
        ("a" * 161, "GSM-7", 2),
        ("a" * 306, "GSM-7", 2),
        ("a" * 307, "GSM-7", 3),
        ("Kävitkö kirjastossa? Åsa ja Öljy" + "ä" * 128, "GSM-7", 1),  # ä ö å are GSM-7
        ("€" * 80, "GSM-7", 1),  # extension characters take two places
        ("€" * 81, "GSM-7", 2),
        ("a" * 152 + "€", "GSM-7", 1),
        ("a" * 152 + "€" + "a" * 8, "GSM-7", 2),  # the € moves whole to the second segment
        ("ž" * 70, "UCS-2", 1),
        ("ž" * 71, "UCS-2", 2),
        ("😀" * 35, "UCS-2", 1),  # outside the BMP: two places each
        ("😀" * 36, "UCS-2", 2),
        ("a" * 66 + "😀" + "a" * 67, "UCS-2", 3),  # an emoji never straddles two segments
    ],
)
def test_a_text_is_counted_in_the_segments_a_phone_receives(text, encoding, count) -> None:
    counted = segments(text)
    assert (counted.encoding, counted.count) == (encoding, count)


def test_curly_quotes_and_dashes_go_as_the_cheap_alphabet() -> None:
    text = as_text(Message("It’s “quick” – really…"))
    assert text == 'It\'s "quick" - really...'
    assert segments(text).encoding == "GSM-7"


def test_choices_are_numbered_on_lines_of_their_own() -> None:
    message = Message("How often?", (Choice("Every week", "w"), Choice("Never", "n")))
    assert as_text(message) == "How often?\n1. Every week\n2. Never"


def test_a_text_longer_than_twilio_takes_is_split_at_a_pause() -> None:
    paragraph = ("word " * 200).strip()
    parts = split(paragraph + "\n\n" + paragraph)
    assert all(len(part) <= MESSAGE_LIMIT for part in parts)
    assert parts[0] == paragraph
    assert " ".join(parts).split() == (paragraph + " " + paragraph).split()
