"""The core events: the only things that cross the adapter boundary."""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from conversations.engine import Choice


@dataclass(frozen=True, slots=True)
class Inbound:
    """A message or button click from a platform, already translated by its adapter."""

    platform: str
    user_id: str
    conversation_id: str
    is_direct: bool
    text: str
    event_id: str  # the platform's id for this event: redeliveries carry the same one
    timestamp: float
    action: str | None = None  # a button's value, when the message is a click
    locale: str | None = None  # the participant's language preference, where known
    command: bool = False  # the adapter recognised a coordinator command; text is the rest
    unreadable: bool = False  # a message arrived that could not be read (encrypted, no key)
    workspace: str | None = None  # the user's team, where a platform has several (Slack)


@dataclass(frozen=True, slots=True)
class Outbound:
    """A message to send. Adapters render choices as buttons where they can, and always
    also as numbered text when `numbered`."""

    platform: str
    conversation_id: str
    text: str
    choices: tuple[Choice, ...] = ()
    numbered: bool = True
    multiple: bool = False
    send_label: str = ""  # multiple choice: the label of the button that sends the ticks
    outbox_id: int | None = None  # stable across resends: a platform's idempotency key
    attachment: Attachment | None = None
    visible_to: str | None = None  # only this user sees it, where the platform can do that

    @classmethod
    def from_body(cls, body: str, *, platform: str, to: str, id: int) -> Outbound:
        """The Outbound an outbox row holds (see `encode_body`)."""
        fields = json.loads(body)
        return cls(
            platform=platform,
            conversation_id=to,
            text=fields["text"],
            choices=tuple(Choice(label, value) for label, value in fields["choices"]),
            numbered=fields["numbered"],
            multiple=fields["multiple"],
            send_label=fields.get("send_label", ""),  # rows queued before it existed
            outbox_id=id,
        )


@functools.lru_cache(maxsize=4096)
def encode_body(
    text: str,
    choices: tuple[Choice, ...] = (),
    numbered: bool = True,
    multiple: bool = False,
    send_label: str = "",
) -> str:
    """What the outbox stores of an Outbound: everything but where it goes. Every
    participant at a question gets the same message, so encodings are remembered."""
    body = {
        "text": text,
        "choices": [[c.label, c.value] for c in choices],
        "numbered": numbered,
        "multiple": multiple,
        "send_label": send_label,
    }
    return json.dumps(body, ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    media_type: str
    data: bytes
    description: str = ""  # an image's alt text: what it shows, for who cannot see it


@dataclass(frozen=True, slots=True)
class Capabilities:
    buttons: bool = False
    threads: bool = False
    file_upload: bool = False
    # can open a direct conversation with someone and list a channel's members
    invites: bool = False
    max_message_length: int = 4_000


InboundHandler = Callable[[Inbound], Awaitable[None]]


class Adapter(Protocol):
    """A chat platform. It hands Inbound events to the handler it was built with."""

    platform: str
    capabilities: Capabilities

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def send(self, outbound: Outbound) -> None: ...


class Inviting(Protocol):
    """What an adapter with `capabilities.invites` also offers."""

    async def open_direct(self, user_id: str) -> str:
        """The id of a direct conversation with `user_id`, opened if need be."""
        ...

    async def channel_members(self, channel: str) -> list[str]:
        """The user ids of a channel's or room's members."""
        ...
