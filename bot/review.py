"""`survey review RUN`: a moderator reads the answers held out of digests (threats and
slurs, bot/screening.py) and releases each to the digest or keeps it out.

Each held answer is named by a short reference, a keyed hash of the answer (so it
says nothing about who wrote it or when, and a wrong one finds nothing). The text
shown is redacted like everything staff read; the decision is stored with the answer
and, like every command, audited.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.redaction import redacted
from bot.references import answer_reference
from bot.scheduler import Clock
from bot.screening import screened
from conversations.questions.free_text import flat
from conversations.survey import Survey
from storage.contract import Storage
from storage.records import AnswerRow, RunRow

MAX_LISTED = 20  # held answers one reply lists; the rest wait for these to be decided
MAX_SHOWN = 300  # characters of each held answer


@dataclass(frozen=True, slots=True)
class HeldAnswer:
    reference: str
    reason: str
    text: str  # redacted
    decision: str | None  # released | kept | None: not decided yet
    answer: AnswerRow


class Review:
    def __init__(self, *, store: Storage, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def held(self, run: RunRow, survey: Survey) -> list[HeldAnswer]:
        """The run's answers that screening holds, decided or not, in survey order."""
        words = {q.id for q in survey.questions if q.citizen_words}
        rows = await self._store.run_rows(run.id)
        found = []
        for answer in rows.answers:
            if answer.question_id not in words or answer.value is None:
                continue
            text = str(answer.value)
            reason = screened(text)
            if reason is None and answer.review is None:
                continue
            found.append(
                HeldAnswer(
                    answer_reference(self._store, answer.response_id, answer.question_id),
                    reason.reason if reason else "held",
                    flat(redacted(text), MAX_SHOWN),
                    answer.review,
                    answer,
                )
            )
        found.sort(key=lambda held: (survey.order(held.answer.question_id), held.reference))
        await self._store.remember_references(  # a held answer may be replied to as well
            run_id=run.id,
            references=[(h.reference, h.answer.response_id, h.answer.question_id) for h in found],
            now=self._clock(),
        )
        return found

    async def listing(self, run: RunRow, survey: Survey) -> str:
        held = await self.held(run, survey)
        if not held:
            return f"Nothing in run {run.id} is held for review."
        waiting = [h for h in held if h.decision is None]
        lines = [
            f"Held for review in run {run.id}: {len(waiting)} to decide, "
            f"{len(held) - len(waiting)} decided."
        ]
        for item in (waiting + [h for h in held if h.decision])[:MAX_LISTED]:
            state = item.decision or "to decide"
            lines.append(f"  {item.reference} ({item.reason}, {state}): “{item.text}”")
        lines.append(
            f"Release one to the digest with 'survey review {run.id} release REF', or keep it "
            f"out with 'survey review {run.id} keep REF'."
        )
        return "\n".join(lines)

    async def decide(self, run: RunRow, survey: Survey, decision: str, reference: str) -> str:
        """Release (`released`) or keep (`kept`) the held answer named by `reference`."""
        wanted = reference.strip("#").upper()
        item = next((h for h in await self.held(run, survey) if h.reference == wanted), None)
        if item is None:
            return (
                f"Nothing held in run {run.id} is called {reference}. 'survey review {run.id}' "
                "lists what is."
            )
        await self._store.review(
            response_id=item.answer.response_id,
            question_id=item.answer.question_id,
            decision=decision,
            now=self._clock(),
        )
        if decision == "released":
            return f"{item.reference} released: the next digest of run {run.id} may quote it."
        return f"{item.reference} kept out of run {run.id}'s digests; the digest still counts it."
