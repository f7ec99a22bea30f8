"""Abuse screening: threats and slurs are held for review, criticism and swearing about
the service reach the digest. One table, each line what a person might write."""

from __future__ import annotations

import pytest

from bot.screening import SLUR, THREAT, screened

HELD = [
    ("I will kill that carer Liisa if she comes again", THREAT),
    ("I'm going to stab him next time", THREAT),
    ("she deserves to be shot", THREAT),
    ("I hope you die", THREAT),
    ("k i l l yourself", THREAT),
    ("i'll k1ll the n u r s e", THREAT),
    ("Tapan sen hoitajan jos se tulee taas", THREAT),
    ("ammun sinut", THREAT),
    ("Jag ska döda dig", THREAT),
    ("jag ska slå ihjäl personalen", THREAT),
    ("hoppas du dör", THREAT),
    ("what a wh0re that receptionist is", SLUR),
    ("Liisa on huora", SLUR),
    ("the staff are r e t a r d s", SLUR),
    ("den där blatten i kassan", SLUR),
]
READ = [
    "the service is bloody awful",
    "The fucking bus was late again and nobody cared",
    "paska palvelu, vitun hidas jono",
    "Skitdålig service, jävla kö",
    "this queue kills me",
    "You are killing me with these opening hours",
    "tapan aikaa kirjastossa iltaisin",  # I kill time in the library
    "Closing the branch will hurt the elderly",
    "Ryssland och Finland",
    "I shot a great photo at the library event",
    "Beat the queue: open earlier",
    "My carer Liisa is wonderful",
]


@pytest.mark.parametrize(("text", "reason"), HELD)
def test_threats_and_slurs_are_held_for_review(text: str, reason: str) -> None:
    held = screened(text)
    assert held is not None
    assert held.reason == reason


@pytest.mark.parametrize("text", READ)
def test_criticism_and_swearing_about_the_service_reach_the_digest(text: str) -> None:
    assert screened(text) is None
