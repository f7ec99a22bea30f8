"""The words people use for options by number, and between options, in en/fi/sv:
"one and three", "kolme", "första och tredje". Folded, as typed answers are."""

from __future__ import annotations

from conversations.text import fold

_NUMBERS = {
    "en": (
        "one two three four five six seven eight nine ten",
        "first second third fourth fifth sixth seventh eighth ninth tenth",
    ),
    "fi": (
        "yksi kaksi kolme neljä viisi kuusi seitsemän kahdeksan yhdeksän kymmenen",
        "ensimmäinen toinen kolmas neljäs viides kuudes seitsemäs kahdeksas yhdeksäs kymmenes",
    ),
    "sv": (
        "ett två tre fyra fem sex sju åtta nio tio",
        "första andra tredje fjärde femte sjätte sjunde åttonde nionde tionde",
    ),
}

# a number word in any of the languages -> the option's number (1 is first)
NUMBER_WORDS: dict[str, int] = {
    fold(word): position
    for cardinals, ordinals in _NUMBERS.values()
    for words in (cardinals, ordinals)
    for position, word in enumerate(words.split(), start=1)
} | {"en": 1}  # Swedish "en" (one), as in "en och tre"

CONNECTORS = frozenset({"and", "ja", "sekä", "seka", "och", "samt", "&", "+"})
