"""Cleaning what people type, and folding it so that matching forgives case and accents."""

from __future__ import annotations

import re
import unicodedata

_EDGE_PUNCTUATION = " \t\n.,;:!?\"'“”‘’«»()[]"
_SPACES = re.compile(r"\s+")


# Format characters that joined emoji and right-to-left text need; other format
# characters (bidi overrides among them) can disguise text and are dropped.
_KEPT_FORMAT = frozenset("\u200c\u200d\u200e\u200f\u2066\u2067\u2068\u2069")


def clean(text: str) -> str:
    """Drop control and disguising format characters (not newlines or tabs), NFC, trim."""
    if text.isascii() and text.isprintable():  # most answers: nothing to drop or compose
        return text.strip()
    kept = "".join(
        ch
        for ch in text
        if ch in "\n\t" or ch in _KEPT_FORMAT or unicodedata.category(ch) not in ("Cc", "Cf", "Cs")
    )
    return unicodedata.normalize("NFC", kept).strip()


def fold(text: str) -> str:
    """Lower-case, accent-free, single-spaced, without punctuation at the ends."""
    if text.isascii():  # most answers: no accents to remove
        return _SPACES.sub(" ", text.lower()).strip(_EDGE_PUNCTUATION)
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _SPACES.sub(" ", bare).strip(_EDGE_PUNCTUATION)


def parse_number(text: str) -> float | None:
    """A number as people write it: '42', '3.5', '3,5', '-1', ' 7 '. None if it is not one."""
    candidate = fold(text).replace(" ", "")
    if re.fullmatch(r"[-+]?\d+(,\d+)?", candidate):
        candidate = candidate.replace(",", ".")
    try:
        value = float(candidate)
    except ValueError:
        return None
    return value if value == value and value not in (float("inf"), float("-inf")) else None
