"""An in-process adapter: events are pushed in by code and replies are collected.

It drives the core in tests, in the benchmark and in the crash test's child
process, where no chat platform is wanted.
"""

from __future__ import annotations

import itertools
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence

from bot.events import Capabilities, Inbound, InboundHandler, Outbound


class MemoryAdapter:
    capabilities = Capabilities(buttons=True, invites=True, file_upload=True)

    def __init__(
        self,
        handler: InboundHandler,
        *,
        platform: str = "memory",
        on_send: Callable[[Outbound], Awaitable[None] | None] | None = None,
        channels: dict[str, list[str]] | None = None,
    ) -> None:
        self.platform = platform
        self._handler = handler
        self._on_send = on_send
        # unique across instances too: a restarted bot on the same database sees new events
        self._event_ids = itertools.count(1)
        self._instance = secrets.token_hex(4)
        self.channels = channels or {}
        self.sent: list[Outbound] = []
        self.refusing: set[str] = set()  # conversations whose sends fail (archived, left)

    async def open_direct(self, user_id: str) -> str:
        return f"dm-{user_id}"

    async def resolve_people(self, names: Sequence[str]) -> list[str]:
        return [name.lstrip("@") for name in names]

    async def channel_members(self, channel: str) -> list[str]:
        if channel not in self.channels:
            raise LookupError(f"no channel {channel}")
        return self.channels[channel]

    def to(self, conversation_id: str) -> list[Outbound]:
        """What was sent into one conversation."""
        return [o for o in self.sent if o.conversation_id == conversation_id]

    def describe(self) -> str:
        return f"{self.platform}: in memory"

    async def start(self) -> None:
        pass

    async def unready(self) -> str | None:
        return None

    async def stop(self) -> None:
        pass

    async def send(self, outbound: Outbound) -> None:
        if outbound.conversation_id in self.refusing:
            raise RuntimeError("channel_not_found")
        if self._on_send is None:
            self.sent.append(outbound)
            return
        result = self._on_send(outbound)
        if result is not None:
            await result

    async def push(
        self,
        user_id: str,
        text: str = "",
        *,
        action: str | None = None,
        event_id: str | None = None,
        locale: str | None = None,
        is_direct: bool = True,
        command: bool = False,
        conversation: str | None = None,
        until_sent: bool = True,
    ) -> Awaitable[object] | None:
        """Hand the core a message from `user_id`, in their direct conversation unless
        `conversation` names another; returns once its replies are sent, or once they
        are stored if not `until_sent` (with what to await for their sending)."""
        delivery = await self._handler(
            Inbound(
                platform=self.platform,
                user_id=user_id,
                conversation_id=conversation or f"dm-{user_id}",
                is_direct=is_direct,
                command=command,
                text=text,
                event_id=event_id or f"ev-{self._instance}-{next(self._event_ids)}",
                timestamp=time.time(),
                action=action,
                locale=locale,
            )
        )
        if not until_sent:
            return delivery
        await delivery
        return None
