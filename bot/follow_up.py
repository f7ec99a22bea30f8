"""The commands that close the loop with the people who answered: review held answers,
reply to an answer's author, record what was done about findings, and tell everyone."""

from __future__ import annotations

from bot.commands import Command
from bot.core import Bot
from bot.events import Inbound
from bot.invitations import Invitations
from bot.outcomes import Outcomes
from bot.replies import Replies
from bot.review import Review
from bot.scheduler import Clock
from bot.survey_files import SurveyCatalogue
from conversations.outgoing import Message
from conversations.survey import Survey
from storage.contract import Storage
from storage.records import RunRow

OF_A_RUN = frozenset({"review", "act", "outcomes", "tell"})


class FollowUp:
    def __init__(
        self,
        *,
        bot: Bot,
        store: Storage,
        surveys: SurveyCatalogue,
        clock: Clock,
        invitations: Invitations,
    ) -> None:
        self.review = Review(store=store, clock=clock)
        self.replies = Replies(bot=bot, store=store, surveys=surveys, clock=clock)
        self.outcomes = Outcomes(
            bot=bot,
            store=store,
            clock=clock,
            guardrails=invitations.guardrails,
            budget=invitations.budget,
            hold=invitations.hold,
        )

    async def reply(self, command: Command, inbound: Inbound) -> str:
        return await self.replies.reply(command.reference, command.text, inbound)

    async def of_run(
        self,
        command: Command,
        run: RunRow,
        survey: Survey,
        inbound: Inbound,
        *,
        approved: bool = False,
    ) -> str | Message:
        """A command of OF_A_RUN on `run`; `approved` by a second coordinator if held."""
        if command.name == "act":
            return await self.outcomes.act(
                run, survey, command.finding, command.status, command.text
            )
        if command.name == "outcomes":
            return await self.outcomes.listing(run)
        if command.name == "tell":
            return await self.outcomes.tell(
                run, survey, send=command.send, inbound=inbound, approved=approved
            )
        if command.decision:
            return await self.review.decide(run, survey, command.decision, command.reference)
        return await self.review.listing(run, survey)
