"""What the bot says: one message, the same from the engine to the outbox to the adapters.

A message is text with optional choices. Adapters render choices as buttons where
they can (and as numbered text when `numbered`); a click hands the choice's
`value` back unchanged, as the Inbound's action. Multiple choice is the one case
where an adapter builds an action itself, from the ticked choices: with
`answer_of(message.question, values)`, never by knowing the format.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass

ANSWER_SEPARATOR = "="  # question id = the answer a button carries


@dataclass(frozen=True, slots=True)
class Choice:
    label: str
    value: str


@dataclass(frozen=True, slots=True)
class Message:
    text: str
    choices: tuple[Choice, ...] = ()
    numbered: bool = True  # a typed number picks a choice by position
    multiple: bool = False  # the choices are boxes to tick, sent together
    send_label: str = ""  # multiple choice: the label of the button that sends the ticks
    question: str | None = None  # multiple choice: the question the ticks answer
    # What follows below a fold (a digest's full figures): a thread reply, a second
    # event, a collapsed section, or after the text where a platform has no fold.
    details: str = ""
    # Rows under a header row, where a platform draws tables (the staff page): `text`
    # says the same for the others.
    table: tuple[tuple[str, ...], ...] = ()
    # The conversation's language when it was said (the web page's words follow it).
    language: str | None = None
    # Said by the turn that switched the accessible profile: on or off (the web page's
    # setting follows it); None in every other message.
    accessible: bool | None = None

    def to_json(self) -> str:
        """What the outbox stores of it. Every participant at a question gets the same
        message, so encodings are remembered."""
        return _encoded(self)

    @classmethod
    def from_json(cls, body: str) -> Message:
        fields = json.loads(body)
        return cls(
            text=fields["text"],
            choices=tuple(Choice(label, value) for label, value in fields["choices"]),
            numbered=fields["numbered"],
            multiple=fields["multiple"],
            send_label=fields.get("send_label", ""),  # rows queued before it existed
            question=fields.get("question"),
            details=fields.get("details", ""),
            table=tuple(tuple(row) for row in fields.get("table", ())),
            language=fields.get("language"),
            accessible=fields.get("accessible"),
        )


def typed_text(message: Message) -> str:
    """The message where there are no buttons: its numbered choices on lines below it."""
    if not (message.choices and message.numbered):
        return message.text
    lines = (f"{i}. {c.label}" for i, c in enumerate(message.choices, start=1))
    return "\n".join((message.text, *lines))


def answer_of(question: str, values: list[str]) -> str:
    """The action of a multiple-choice answer: the ticked choices' values, sent at once."""
    return f"{question}{ANSWER_SEPARATOR}{','.join(values)}"


def answer_action(question: str, value: str) -> str:
    """The value of a button that answers `question` with `value`."""
    return f"{question}{ANSWER_SEPARATOR}{value}"


def read_answer(action: str) -> tuple[str, str]:
    """(question id, the raw answer) of an action made by `answer_action` or `answer_of`."""
    question, _, raw = action.partition(ANSWER_SEPARATOR)
    return question, raw


@functools.lru_cache(maxsize=4096)
def _encoded(message: Message) -> str:
    body = {
        "text": message.text,
        "choices": [[c.label, c.value] for c in message.choices],
        "numbered": message.numbered,
        "multiple": message.multiple,
        "send_label": message.send_label,
        "question": message.question,
    }
    if message.details:
        body["details"] = message.details
    if message.table:
        body["table"] = [list(row) for row in message.table]
    if message.language:
        body["language"] = message.language
    if message.accessible is not None:
        body["accessible"] = message.accessible
    return json.dumps(body, ensure_ascii=False)
