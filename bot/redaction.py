"""Personal data taken out of what citizens wrote, before any staff member sees it.

Digest quotes and themes and the CSV export pass free text through `redacted`;
the stored answer stays as it was, for the participant's own `my data` and for
erasure. What is caught (see docs/privacy.md for what is not):

- e-mail addresses;
- phone numbers, national and international, of Finland, Sweden and the UK, as
  libphonenumber's matcher (`phonenumbers`) finds valid ones;
- Finnish henkilötunnus and Swedish personnummer, IBANs and card numbers, each
  checked by `python-stdnum` (checksums), so that other long numbers stay;
- street addresses written as Finnish, Swedish and English addresses are
  ("Hämeenkatu 12 B 4", "Storgatan 5", "Elm St 5", "12 Elm Street");
- a name given after "my name is", "nimeni on", "jag heter" and the like.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from functools import cache
from types import ModuleType
from typing import NamedTuple

EMAIL = "[e-mail]"
PHONE = "[phone]"
IDENTITY = "[identity number]"
ACCOUNT = "[IBAN]"
CARD = "[card]"
ADDRESS = "[address]"
NAME = "[name]"
PHONE_REGIONS = ("FI", "SE", "GB")

_DIGIT = re.compile(r"\d")
# Six digits or more, apart by at most a few separators: the least a phone number has.
_ENOUGH_DIGITS = re.compile(r"\d(?:[\s().\-/]{0,3}\d){5,}")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]){11,30}\b")
_HETU = re.compile(r"\b\d{6}[-+A-FU-Y]\d{3}[0-9A-Y]\b", re.IGNORECASE)
_PERSONNUMMER = re.compile(r"\b(?:\d{2})?\d{6}[-+]?\d{4}\b")
_CARD = re.compile(r"\b\d(?:[ -]?\d){12,18}\b")
_UPPER, _LOWER = "A-ZÄÖÅÉ", "a-zäöåéü"
_NUMBER = r"\d{1,4}(?:\s?[A-Za-z]\b)?(?:\s?\d{1,3}\b)?"  # 12, 12 B, 12 B 4, 12b
_STREETS = (
    # Finnish and Swedish street names end in the kind of street: Hämeenkatu, Storgatan
    rf"\b[{_UPPER}][{_LOWER}]+(?:katu|tie|kuja|polku|väylä|raitti|rinne|kaari|aukio|tori|"
    rf"gatan|gata|vägen|väg|gränd|torget|stigen|allén)\s+{_NUMBER}",
    # English ones come before or after their number: 12 Elm Street, Elm St 5
    rf"\b\d{{1,4}}\s+(?:[{_UPPER}][{_LOWER}]+\s+){{1,2}}"
    r"(?:Street|St|Road|Rd|Avenue|Ave|Lane|Ln|Way|Drive|Dr|Close|Court|Place|Crescent)\b\.?",
    rf"\b(?:[{_UPPER}][{_LOWER}]+\s+){{1,2}}"
    rf"(?:Street|St|Road|Rd|Avenue|Ave|Lane|Ln|Way|Drive|Dr)\.?\s+{_NUMBER}",
)
_ADDRESS = re.compile("|".join(f"(?:{street})" for street in _STREETS))
_INTRODUCED = re.compile(
    r"(\b(?i:my name is|i am called|minun nimeni on|nimeni on|jag heter|mitt namn är)\s+)"
    rf"([{_UPPER}][{_LOWER}]+(?:[ -][{_UPPER}][{_LOWER}]+)?)"
)


def redacted(text: str) -> str:
    """`text` with the personal data it holds replaced by labels such as [phone]."""
    if "@" not in text and not _DIGIT.search(text) and not _INTRODUCED.search(text):
        return text  # most answers: nothing any step could find
    for redact in _STEPS:
        text = redact(text)
    return text


def _replace_valid(pattern: re.Pattern[str], valid: Callable[[str], bool], label: str):
    def redact(text: str) -> str:
        return pattern.sub(lambda m: label if valid(m.group(0)) else m.group(0), text)

    return redact


class _Checkers(NamedTuple):
    phonenumbers: ModuleType
    iban: ModuleType
    luhn: ModuleType
    hetu: ModuleType
    personnummer: ModuleType


@cache
def _checkers() -> _Checkers:
    """The libraries that tell real numbers from other digits, imported by the first text
    that has digits, not at start: python-stdnum's import brings pydoc, inspect and ssl
    along, which an idle bot need not hold (bench/start.py)."""
    import phonenumbers
    from stdnum import iban, luhn
    from stdnum.fi import hetu
    from stdnum.se import personnummer

    return _Checkers(phonenumbers, iban, luhn, hetu, personnummer)


def _phones(text: str) -> str:
    if not _ENOUGH_DIGITS.search(text):  # libphonenumber's matcher is slow; no number is short
        return text
    phonenumbers = _checkers().phonenumbers
    spans: list[tuple[int, int]] = []
    for region in PHONE_REGIONS:
        matcher = phonenumbers.PhoneNumberMatcher(
            text, region, leniency=phonenumbers.Leniency.VALID
        )
        spans.extend((match.start, match.end) for match in matcher)
    return _replaced(text, spans, PHONE)


def _replaced(text: str, spans: Iterable[tuple[int, int]], label: str) -> str:
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    for start, end in reversed(merged):
        text = text[:start] + label + text[end:]
    return text


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


_STEPS: tuple[Callable[[str], str], ...] = (
    lambda text: _EMAIL.sub(EMAIL, text),
    _replace_valid(_IBAN, lambda found: _checkers().iban.is_valid(found), ACCOUNT),
    _replace_valid(_HETU, lambda found: _checkers().hetu.is_valid(found.upper()), IDENTITY),
    _replace_valid(_PERSONNUMMER, lambda found: _checkers().personnummer.is_valid(found), IDENTITY),
    _replace_valid(_CARD, lambda found: _checkers().luhn.is_valid(_digits(found)), CARD),
    _phones,
    lambda text: _ADDRESS.sub(ADDRESS, text),
    lambda text: _INTRODUCED.sub(lambda m: m.group(1) + NAME, text),
)
