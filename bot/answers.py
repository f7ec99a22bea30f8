"""Answering staff: a command's answer where it was typed, for its typist's eyes only, and
what became of a digest schedule, to whoever made it."""

from __future__ import annotations

import logging

from bot.events import Adapter, Attachment, Inbound, Outbound
from bot.scheduler import Clock
from conversations.outgoing import Message
from storage.records import ScheduleRow

log = logging.getLogger(__name__)


class Answers:
    def __init__(self, adapters: dict[str, Adapter], clock: Clock) -> None:
        self._adapters = adapters
        self._clock = clock

    async def tell_maker(self, schedule: ScheduleRow, text: str) -> None:
        """Tell whoever made a digest schedule, where they made it, what became of it."""
        if not (schedule.made_by and schedule.made_in):
            return  # made before schedules kept their maker: the log has it
        platform, user_id = schedule.made_by.split(":", 1)
        conversation_id = schedule.made_in.split(":", 1)[1]
        where = Inbound.command_as(
            platform=platform,
            user_id=user_id,
            conversation_id=conversation_id,
            text="",
            event_id=f"schedule:{schedule.id}",
            now=self._clock(),
        )
        await self.tell(where, text)

    async def tell(
        self, inbound: Inbound, reply: str | Message, attachment: Attachment | None = None
    ) -> None:
        """Answer the coordinator where the command came from, for their eyes only."""
        answer = Outbound(
            inbound.platform,
            inbound.conversation_id,
            reply if isinstance(reply, Message) else Message(reply),
            attachment=attachment,
            visible_to=inbound.user_id,
        )
        try:
            await self._adapters[inbound.platform].send(answer)
        except Exception:
            log.exception("could not answer a survey command on %s", inbound.platform)
