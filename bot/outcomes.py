"""What staff did about a run's findings, and "you said, we did" for everyone who took part.

`survey act RUN F3 planned "…"` records a status and a note on a digest's finding
(its number stays the same in every digest of the run); `survey outcomes RUN` lists
them with how many people each concerned; `survey tell RUN` drafts the follow-up from
the findings planned or done, and `survey tell RUN send` sends it to everyone who
took part and did not opt out, in anonymous surveys too (the list of people is not
linked to any answer). Each person gets it once: a send cut short sends the rest
when typed again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from bot.core import Bot
from bot.events import Inbound
from bot.invitations import Guardrails, HourlyBudget
from bot.scheduler import Clock
from conversations.messages import say
from conversations.survey import Survey
from storage.contract import Storage
from storage.records import FindingRow, RunRow

TOLD = ("planned", "done")  # what a follow-up tells people
SEND_AT_ONCE = 100  # follow-ups stored together: one commit carries many


class Outcomes:
    def __init__(
        self,
        *,
        bot: Bot,
        store: Storage,
        clock: Clock,
        guardrails: Guardrails,
        budget: HourlyBudget,
        hold: Callable[[Inbound, int], Awaitable[str]],
    ) -> None:
        self._bot = bot
        self._store = store
        self._clock = clock
        self._guardrails = guardrails
        self._budget = budget  # shared with invitations and reminders
        self._hold = hold

    async def act(self, run: RunRow, number: int, status: str, note: str) -> str:
        acted = await self._store.act_on_finding(
            run_id=run.id, number=number, status=status, note=note, now=self._clock()
        )
        if not acted:
            return (
                f"Run {run.id} has no finding F{number}. Digests number their findings; "
                f"'survey outcomes {run.id}' lists them."
            )
        said = f"F{number} of run {run.id} is {status}"
        return f"{said}: {note}" if note else f"{said}."

    async def listing(self, run: RunRow) -> str:
        found = await self._store.findings(run.id)
        if not found:
            return f"Run {run.id} has no findings yet: they come with its digests."
        lines = [f"Findings of run {run.id}, and what was done about them:"]
        for row in found:
            done = f"{row.status}: {row.note}" if row.note else (row.status or "open")
            lines.append(f"  F{row.number} ({row.people} people) {row.label} | {done}")
        return "\n".join(lines)

    async def tell(
        self, run: RunRow, survey: Survey, *, send: bool, inbound: Inbound, approved: bool = False
    ) -> str:
        """Draft the follow-up, or send it: a large audience waits for a second
        coordinator's approval, and it counts against the hourly cap like invitations."""
        told = [row for row in await self._store.findings(run.id) if row.status in TOLD]
        if not told:
            return (
                f"Nothing to tell from run {run.id} yet: mark findings planned or done with "
                f"'survey act {run.id} F1 done \"what was done\"'."
            )
        text = follow_up(survey, told)
        people = await self._store.participants_of(run.id)
        if not send:
            return (
                f"Draft for run {run.id}, to {len(people)} people who took part (nothing sent;"
                f" 'survey tell {run.id} send' sends it):\n\n{text}"
            )
        if len(people) > self._guardrails.approval_above and not approved:
            return await self._hold(inbound, len(people))
        if len(people) > (remaining := self._budget.remaining()):
            return (
                f"Not sent: that is {len(people):,} messages, and only {remaining:,} of this "
                f"hour's {self._budget.limit:,} are left. Try again after "
                f"{self._budget.refills_at()}; nobody gets it twice."
            )
        await self._store.mark_told(run.id, now=self._clock())
        sent = 0
        for first in range(0, len(people), SEND_AT_ONCE):
            results = await asyncio.gather(
                *(
                    self._bot.outreach.tell(
                        pid=pid,
                        platform=platform,
                        conversation_id=conversation_id,
                        text=text,
                        event_key=f"tell:{run.id}:{pid}",
                    )
                    for pid, platform, conversation_id in people[first : first + SEND_AT_ONCE]
                )
            )
            sent += sum(results)
        self._budget.spend(sent)
        already = len(people) - sent
        reply = f"Told {sent} people who took part in run {run.id}."
        return reply + (f" {already} had it already." if already else "")


def follow_up(survey: Survey, told: list[FindingRow]) -> str:
    """The follow-up in the survey's first language: the findings as the digest said them,
    with what was done, in the staff's words."""
    lang = survey.default_language
    lines = [say(lang, "you_said", title=survey.title_in(lang))]
    for row in told:
        lines.append(
            f"• {row.label}: {say(lang, row.status)}" + (f", {row.note}" if row.note else "")
        )
    return "\n".join(lines)
