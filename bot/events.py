"""The core events: the only things that cross the adapter boundary."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import BinaryIO, Literal, NamedTuple, Protocol, runtime_checkable

from bot.disk_file import DiskFile
from conversations.outgoing import Message

# Why a message could not be read: encrypted with a key civicbot lacks, or only a
# picture or a recording (an MMS with no words).
Unreadable = Literal["encrypted", "media"]
CarrierKeyword = Literal["opt_out", "opt_in", "help"]


class Inbound(NamedTuple):
    """A message or button click from a platform, already translated by its adapter. (A
    named tuple: made at every event, where a frozen dataclass takes four times as long.)"""

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
    unreadable: Unreadable | None = None  # a message arrived that could not be read
    workspace: str | None = None  # the user's team, where a platform has several (Slack)
    # An edit of one of the person's messages, with its new text: "latest" when it edits
    # their last message, "older" when not or when the adapter cannot tell.
    edited: str | None = None
    # A carrier keyword texted alone (STOP, START, HELP, as the SMS adapter knows them):
    # on SMS these decide opt-outs, whatever the person is in the middle of.
    keyword: CarrierKeyword | None = None

    @classmethod
    def command_as(
        cls,
        *,
        platform: str,
        user_id: str,
        conversation_id: str,
        text: str,
        event_id: str,
        now: float,
    ) -> Inbound:
        """A stored command run later as the coordinator who typed it, where they typed it
        (an approval, a scheduled start): its answers go back to them."""
        return cls(
            platform=platform,
            user_id=user_id,
            conversation_id=conversation_id,
            is_direct=False,
            text=text,
            event_id=event_id,
            timestamp=now,
            command=True,
        )

    @property
    def logged(self) -> tuple[str, str]:
        """What a log line may say of the event: its platform and its id, nobody's data."""
        return self.platform, self.event_id


@dataclass(frozen=True, slots=True)
class Outbound:
    """A message to send, and where to."""

    platform: str
    conversation_id: str
    message: Message
    outbox_id: int | None = None  # stable across resends: a platform's idempotency key
    attachment: Attachment | None = None
    visible_to: str | None = None  # only this user sees it, where the platform can do that
    # An earlier try may have reached the platform (a lost connection, a crash): where the
    # platform can tell, the adapter sends only what is not there yet.
    maybe_sent: bool = False


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """What a platform said later of a message it took (SMS: delivered, undelivered)."""

    platform: str
    message_id: str  # the platform's id of the message, never the person's
    status: str
    error_code: int | None = None


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    media_type: str
    data: bytes | DiskFile  # on disk when it is large (an export)
    description: str = ""  # an image's alt text: what it shows, for who cannot see it

    @property
    def size(self) -> int:
        return len(self.data) if isinstance(self.data, bytes) else self.data.size

    def content(self) -> bytes:
        """The whole file, for platforms whose library takes it whole."""
        return self.data if isinstance(self.data, bytes) else self.data.read()

    def chunks(self) -> Iterator[bytes]:
        if isinstance(self.data, bytes):
            yield self.data
        else:
            yield from self.data.chunks()

    def reader(self) -> BinaryIO:
        return io.BytesIO(self.data) if isinstance(self.data, bytes) else self.data.reader()


@dataclass(frozen=True, slots=True)
class Capabilities:
    buttons: bool = False
    threads: bool = False
    file_upload: bool = False
    # can open a direct conversation with someone and list a channel's members
    invites: bool = False
    max_message_length: int = 4_000
    # Text messages: a turn's replies go as one message (people pay per message and see
    # them out of order otherwise), and an opt-out holds until the person texts START,
    # as carriers require, not only until they write again.
    texting: bool = False


class NotStored(Exception):
    """The event's turn could not be stored: the adapter must not tell its platform the
    event was received, so that the platform delivers it again (the event id makes a
    second delivery of something that was stored after all change nothing)."""


class Refused(Exception):
    """The platform answered that it did not take the message, and no part of it is on
    the platform (or sending those parts again cannot repeat them, as with Matrix's
    transaction ids): the adapter raises it only when both are sure. `lasting` when sending
    it again cannot help (too large, malformed); `reason` is the platform's own word for
    it, never the message's text."""

    def __init__(self, reason: str, *, lasting: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.lasting = lasting


# Done once an event's replies have gone out (or were left in the outbox for its sweep).
Delivery = asyncio.Future[None]
# Returns as soon as the event is stored, which is when its platform may be told so; the
# replies follow. Raises NotStored when the event could not be stored.
InboundHandler = Callable[[Inbound], Awaitable[Delivery]]


def delivered() -> Delivery:
    """The Delivery of an event that has nothing (more) to send."""
    done = asyncio.get_running_loop().create_future()
    done.set_result(None)
    return done


class Adapter(Protocol):
    """A chat platform. It hands Inbound events to the handler it was built with."""

    platform: str
    capabilities: Capabilities

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def send(self, outbound: Outbound) -> None: ...

    def describe(self) -> str:
        """One line for whoever started civicbot: where and how this platform is reached."""
        ...

    async def unready(self) -> str | None:
        """None while the platform can be reached and can reach civicbot; else why not,
        in a few words (the readiness check shows it)."""
        ...


AdapterFactory = Callable[[InboundHandler], Adapter]


class Inviting(Protocol):
    """What an adapter with `capabilities.invites` also offers."""

    async def open_direct(self, user_id: str) -> str:
        """The id of a direct conversation with `user_id`, opened if need be."""
        ...

    async def resolve_people(self, names: Sequence[str]) -> list[str]:
        """The user ids of people as a coordinator named them (a mention, an id, a plain
        name); LookupError naming each that is unknown or ambiguous."""
        ...

    async def channel_members(self, channel: str) -> list[str]:
        """The user ids of a channel's or room's members, named as a coordinator did;
        LookupError when there is no such channel."""
        ...


class StaffDoor(Protocol):
    """What the wiring gives an adapter with a staff sign-in page (bot/staff_door.py):
    keys and sessions are checked by the core, never kept by the adapter."""

    async def sign_in(self, key: str) -> str | None:
        """A new session token for a personal sign-in key, or None."""
        ...

    async def open_session(self, user_id: str) -> str:
        """A new session token for a user the adapter vouches for (its operator key)."""
        ...

    async def session_user(self, token: str) -> str | None:
        """Whose the session is, or None when it expired or was revoked."""
        ...


@runtime_checkable
class Costing(Protocol):
    """An adapter whose messages cost money per part (SMS): what a wave would take."""

    def cost(self, message: Message, recipients: int) -> str:
        """In a sentence: what sending `message` to `recipients` people takes."""
        ...
