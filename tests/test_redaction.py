"""Personal data is taken out of citizens' words before staff see them; the words that
carry the feedback stay."""

from __future__ import annotations

import pytest

from bot.redaction import redacted

CAUGHT = [
    ("My name is Ann Smith, 040 123 4567, Elm St 5", "My name is [name], [phone], [address]"),
    (
        "Soittakaa 0401234567 tai +358 40 123 4567, asun Hämeenkatu 12 B 4",
        "Soittakaa [phone] tai [phone], asun [address]",
    ),
    ("Nimeni on Matti Virtanen ja hetu 131052-308T", "Nimeni on [name] ja hetu [identity number]"),
    (
        "Ring mig på 070-123 45 67, jag bor på Storgatan 5",
        "Ring mig på [phone], jag bor på [address]",
    ),
    (
        "Jag heter Lars, personnummer 811228-9874",
        "Jag heter [name], personnummer [identity number]",
    ),
    ("Call 07911 123456 or 020 7946 0958", "Call [phone] or [phone]"),
    ("I live at 12 Elm Street", "I live at [address]"),
    ("write to ann.smith@example.fi please", "write to [e-mail] please"),
    ("refund to FI21 1234 5600 0007 85", "refund to [IBAN]"),
    ("they charged my card 4111 1111 1111 1111 twice", "they charged my card [card] twice"),
]

KEPT = [
    "Opening hours 9-17 are too short and the 550 bus takes 45 minutes",
    "Aukioloajat klo 10.30–18, linja 550, hinta 12,50 €, vuonna 2026",
    "Öppettider 10–16, buss 4, kostar 120 kr sedan 2024",
    "I visited on 1.12.2026 and waited 25 minutes in room 1234",
    "The service is bloody awful",
    "Call 112 in an emergency",
    "Jag heter inte så, men tack",  # no name follows
    "order 123456789012 never came",  # a long number that is no card (no valid checksum)
]


@pytest.mark.parametrize(("written", "shown"), CAUGHT)
def test_personal_data_is_replaced_by_what_it_was(written: str, shown: str) -> None:
    assert redacted(written) == shown


@pytest.mark.parametrize("written", KEPT)
def test_times_prices_bus_numbers_and_years_stay(written: str) -> None:
    assert redacted(written) == written
