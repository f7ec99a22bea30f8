"""What a message becomes as a text message: choices numbered, typography a phone can
show in the cheap alphabet, and how many segments (and so how much money) it takes.

A text goes out in GSM-7 when every character is in the GSM 03.38 alphabet (ä, ö, å,
é and € are; the characters of the extension table, such as € [ ] { } ~ ^ | \\, take two
places), otherwise in UCS-2, where a character outside the Basic Multilingual Plane
(most emoji) takes two. One segment holds 160 GSM-7 places or 70 UCS-2 ones; a longer
text is sent as concatenated segments of 153 or 67, and a character's places never
straddle two segments. Twilio takes at most 1,600 characters a message, so anything
longer is split into messages at paragraph, line or word ends.
"""

from __future__ import annotations

from dataclasses import dataclass

import gsm0338  # noqa: F401  registers the "gsm03.38" codec

from conversations.outgoing import Message, typed_text

MESSAGE_LIMIT = 1_600  # characters in one message resource (Twilio's Body limit)
SINGLE = {"GSM-7": 160, "UCS-2": 70}  # places in a text of one segment
CONCATENATED = {"GSM-7": 153, "UCS-2": 67}  # places a segment of a longer text keeps
# Typography civicbot's own texts and survey authors use, as the GSM-7 letters that
# look the same: one curly quote would make the whole text UCS-2, at about twice the cost.
PLAIN_TYPOGRAPHY = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u2013": "-",
        "\u2014": "-",
        "\u2212": "-",
        "\u2026": "...",
        "\u00a0": " ",
        "\u2009": " ",
        "\u202f": " ",
        "\u2022": "-",
    }
)


@dataclass(frozen=True, slots=True)
class Segments:
    encoding: str  # "GSM-7" or "UCS-2"
    count: int


def as_text(message: Message) -> str:
    """The message as one text: numbered choices on lines of their own below it."""
    return typed_text(message).translate(PLAIN_TYPOGRAPHY)


def segments(text: str) -> Segments:
    """How many segments the text is sent in, and in which alphabet."""
    places = _gsm_places(text)
    encoding = "GSM-7" if places is not None else "UCS-2"
    if places is None:
        places = [2 if ord(c) > 0xFFFF else 1 for c in text]
    if sum(places) <= SINGLE[encoding]:
        return Segments(encoding, 1)
    room, count, used = CONCATENATED[encoding], 1, 0
    for taken in places:
        if used + taken > room:
            count, used = count + 1, 0
        used += taken
    return Segments(encoding, count)


def split(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """The text as messages of at most `limit` characters, cut where a reader would pause."""
    parts: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        head = rest[:limit]
        pauses = (head.rfind(pause) for pause in ("\n\n", "\n", " "))
        # the longest pause in the second half; where there is none, the word is cut
        cut = next((at for at in pauses if at >= limit // 2), limit)
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    return [*parts, rest] if rest else parts


def _gsm_places(text: str) -> list[int] | None:
    """Each character's places in GSM-7, or None when one is not in its alphabet."""
    try:
        return [len(c.encode("gsm03.38")) for c in text]
    except UnicodeEncodeError:
        return None
