"""What staff did about a run's findings, and "you said, we did" for everyone who took part.

`survey act RUN F3 planned "…"` records a status and a note on a digest's finding
(its number stays the same in every digest of the run); `survey outcomes RUN` lists
them with how many people each concerned; `survey tell RUN` drafts the follow-up from
the findings planned or done, and `survey tell RUN send` sends it to everyone who
took part and did not opt out, in anonymous surveys too (the list of people is not
linked to any answer), in the language they took part in where staff gave the notes in
it. Each person gets it once, however long after the first send a second comes: a send
cut short sends the rest when typed again.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import Awaitable, Callable

from bot.core import Bot
from bot.events import Inbound
from bot.invitations import Guardrails, HourlyBudget
from bot.scheduler import Clock
from conversations.messages import say
from conversations.outgoing import Message
from conversations.survey import Survey
from storage.contract import Storage
from storage.records import FindingRow, RunRow, TookPart

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

    async def act(self, run: RunRow, survey: Survey, number: int, status: str, note: str) -> str:
        first, others = notes_by_language(note, survey)
        acted = await self._store.act_on_finding(
            run_id=run.id, number=number, status=status, note=first, notes=others, now=self._clock()
        )
        if not acted:
            return (
                f"Run {run.id} has no finding F{number}. Digests number their findings; "
                f"'survey outcomes {run.id}' lists them."
            )
        said = f"F{number} of run {run.id} is {status}"
        said = f"{said}: {first}" if first else f"{said}."
        if others:
            said += " (also in " + ", ".join(others) + ")"
        return said

    async def listing(self, run: RunRow) -> str | Message:
        found = await self._store.findings(run.id)
        if not found:
            return f"Run {run.id} has no findings yet: they come with its digests."
        lines = [f"Findings of run {run.id}, and what was done about them:"]
        table = [("Finding", "People", "What it says", "Status", "Note")]
        for row in found:
            done = f"{row.status}: {row.note}" if row.note else (row.status or "open")
            lines.append(f"  F{row.number} ({row.people} people) {row.label} | {done}")
            table.append(
                (f"F{row.number}", str(row.people), row.label, row.status or "open", row.note or "")
            )
        return Message("\n".join(lines), table=tuple(table))

    async def tell(
        self, run: RunRow, survey: Survey, *, send: bool, inbound: Inbound, approved: bool = False
    ) -> str:
        """Draft the follow-up, or send it to those who have not had it: a large audience
        waits for a second coordinator's approval, and it counts against the hourly cap
        like invitations."""
        told = [row for row in await self._store.findings(run.id) if row.status in TOLD]
        if not told:
            return (
                f"Nothing to tell from run {run.id} yet: mark findings planned or done with "
                f"'survey act {run.id} F1 done \"what was done\"'."
            )
        texts = follow_ups(survey, told)
        people = await self._store.participants_of(run.id)
        untold = [person for person in people if not person.told]
        if not send:
            return _draft(run, texts, people, untold)
        if len(untold) > self._guardrails.approval_above and not approved:
            return await self._hold(inbound, len(untold))
        if len(untold) > (remaining := self._budget.remaining()):
            return (
                f"Not sent: that is {len(untold):,} messages, and only {remaining:,} of this "
                f"hour's {self._budget.limit:,} are left. Try again after "
                f"{self._budget.refills_at()}; nobody gets it twice."
            )
        await self._store.mark_told(run.id, now=self._clock())
        sent = 0
        for first in range(0, len(untold), SEND_AT_ONCE):
            results = await asyncio.gather(
                *(
                    self._bot.outreach.tell(
                        pid=person.pid,
                        platform=person.platform,
                        conversation_id=person.conversation_id,
                        text=texts.get(person.language or "", texts[survey.default_language]),
                        event_key=f"tell:{run.id}:{person.pid}",
                        follow_up_of=run.id,
                    )
                    for person in untold[first : first + SEND_AT_ONCE]
                )
            )
            sent += sum(results)
        self._budget.spend(sent)
        already = len(people) - sent
        reply = f"Told {sent:,} people who took part in run {run.id}."
        if already:
            reply += f" {already:,} had it already."
        if sent > SEND_AT_ONCE:
            reply += (
                " The messages go out as fast as each platform allows; 'survey tell"
                f" {run.id}' says how many are still on their way."
            )
        return reply


def _draft(
    run: RunRow, texts: dict[str, str], people: list[TookPart], untold: list[TookPart]
) -> str:
    head = f"Draft for run {run.id}, to {len(untold):,} people who took part"
    if len(untold) < len(people):
        told = [p for p in people if p.told]
        on_the_way = sum(p.waiting for p in told)
        head += f" ({len(told):,} more were sent it already"
        head += f", {on_the_way:,} of them still on its way)" if on_the_way else ")"
    head += f" (nothing sent; 'survey tell {run.id} send' sends it):"
    if len(texts) == 1:
        return f"{head}\n\n{next(iter(texts.values()))}"
    first = next(iter(texts))
    counts = Counter(p.language if p.language in texts else first for p in untold)
    return "\n\n".join(
        [head] + [f"[{lang}, {counts[lang]:,} people]\n{text}" for lang, text in texts.items()]
    )


def notes_by_language(note: str, survey: Survey) -> tuple[str, dict[str, str]]:
    """`survey act`'s note split into the survey's first language and others, each given
    after its code and a colon: `Open on Sundays fi: Auki sunnuntaisin sv: Öppet …`."""
    others = [lang for lang in survey.languages if lang != survey.default_language]
    if not others:
        return _unquoted(note), {}
    marker = re.compile(r"(?:^|\s)(" + "|".join(map(re.escape, others)) + r"):\s*")
    parts = marker.split(note)
    notes = {lang: _unquoted(text) for lang, text in zip(parts[1::2], parts[2::2], strict=True)}
    return _unquoted(parts[0]), {lang: text for lang, text in notes.items() if text}


def _unquoted(text: str) -> str:
    return text.strip().strip("\"'“”").strip()


def follow_ups(survey: Survey, told: list[FindingRow]) -> dict[str, str]:
    """The follow-up in the survey's first language (the findings as the digest said
    them, with what was done, in the staff's words), and in each other language in which
    every finding told has a note."""
    lang = survey.default_language
    lines = [say(lang, "you_said", title=survey.title_in(lang))]
    for row in told:
        lines.append(
            f"• {row.label}: {say(lang, row.status)}" + (f", {row.note}" if row.note else "")
        )
    texts = {lang: "\n".join(lines)}
    for other in survey.languages:
        if other in texts or not all(row.notes.get(other) for row in told):
            continue
        lines = [say(other, "you_said", title=survey.title_in(other))]
        lines += [f"• {row.notes[other]} ({say(other, row.status)})" for row in told]
        texts[other] = "\n".join(lines)
    return texts
