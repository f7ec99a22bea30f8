"""The storage contract (storage/contract.py) on SQL, for both backends: each method
is one of the shared statements of storage/ run as a write, a read or a scan. A backend
says how those run: `storage.store.Store` on SQLite (group commit in a writer process),
`storage.postgres.PostgresStore` on PostgreSQL (a pool of connections)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator, Sequence
from functools import partial
from typing import Any, TypeVar

from storage import figures, outbox, outcomes, privacy, replies, retention, runs
from storage.dialect import Connection
from storage.pseudonyms import Pseudonyms
from storage.reads_together import ManyRead
from storage.recent import RecentConversations
from storage.records import (
    AnswerRow,
    ConversationRow,
    Erased,
    FindingRow,
    OutboxDepth,
    Purged,
    Reachable,
    ReplyTarget,
    ReplyThread,
    ResponseRow,
    RunFigures,
    RunRow,
    RunRows,
    StoredOutbox,
    StoredResponse,
    TookPart,
    TurnRecord,
    Undeliverable,
)
from storage.staff_store import StaffStore
from storage.turns import (
    conversation_in,
    decoded,
    first_delivery,
    forget_sent,
    record_turns,
)
from storage.wave_store import WaveStore
from storage.web_store import WebStore
from storage.write_process import nothing

T = TypeVar("T")

# Seconds a delivered reply may stay in the outbox: a crash within them sends it again
# on platforms without idempotency keys (Slack). When the bot is busy, the removal
# rides along with the next commit long before; when it is quiet, it costs at most
# five small commits a second.
SENT_CLEANUP_DELAY = 0.2


class SqlStore(StaffStore, WaveStore, WebStore):
    """The storage contract; each method's promise is in storage/contract.py.

    Every write that changes a participant's conversation, participant or address
    row, or a run's status, must keep `_recent` coherent (a backend whose conversations
    other processes change too gives it no room)."""

    _pseudonyms: Pseudonyms
    _recent: RecentConversations

    # What a backend provides besides StaffStore's: compacting the files after deletions,
    # and a point read by a function that reads many keys of its kind at once (it may
    # read the key with others asked for meanwhile: storage/reads_together.py).
    _compact: Callable[[], Awaitable[None]]
    _read_together: Callable[[ManyRead, Any], Awaitable[Any]]

    # -- participants and their turns ------------------------------------------------

    def pseudonym(self, platform: str, user_id: str) -> str:
        return self._pseudonyms.of(platform, user_id)

    async def commit_turn(self, turn: TurnRecord) -> list[int] | None:
        try:
            stored = await self.writer.submit_item(record_turns, turn)
        except Exception:  # perhaps stored after all: read it back next time
            self._recent.forget(turn.pid)
            raise
        if stored is None:  # committed before, perhaps by a writer that outlived its bot:
            self._recent.forget(turn.pid)  # then the cached conversation may predate it
            return None
        outbox_ids, turn.response_id = stored
        self._recent.committed(turn)
        return outbox_ids

    async def erase_participant(self, pid: str, **details: object) -> Erased | None:
        erased = await self.writer.write(partial(privacy.erase_participant, pid=pid, **details))
        self._recent.forget(pid)
        if erased is not None:
            await self._compact()
        return erased

    async def conversation_in(self, pid: str, run_id: int) -> ConversationRow | None:
        return await self._read(conversation_in, pid, run_id)

    async def stored_responses(self, pid: str) -> list[StoredResponse]:
        return await self._scan(partial(privacy.stored_responses, pid=pid))

    async def first_delivery(self, event_key: str, *, now: float) -> bool:
        return await self.writer.write(partial(first_delivery, event_key=event_key, now=now))

    # -- the outbox -------------------------------------------------------------------

    async def unsent(
        self, *, queued_before: float | None = None, platforms: Sequence[str] | None = None
    ) -> list[StoredOutbox]:
        return await self._read(outbox.unsent, queued_before=queued_before, platforms=platforms)

    async def outbox_depth(self, *, queued_before: float) -> OutboxDepth:
        return await self._read(outbox.depth, queued_before=queued_before)

    async def note_failure(self, outbox_id: int, **failure: Any) -> bool:
        return await self.writer.write(partial(outbox.note_failure, outbox_id=outbox_id, **failure))

    async def undeliverable(self) -> list[Undeliverable]:
        return await self._read(outbox.undeliverable)

    def forget_sent(self, outbox_ids: list[int]) -> asyncio.Future[None]:
        """With the next commit, not one of its own (at most SENT_CLEANUP_DELAY later)."""
        return self.writer.submit_later(
            partial(forget_sent, outbox_ids=outbox_ids), within=SENT_CLEANUP_DELAY
        )

    async def flushed(self) -> None:
        await self.writer.write(nothing)

    def restarts(self) -> int:
        return self.writer.restarts

    # -- runs --------------------------------------------------------------------------

    async def create_run(self, **run: Any) -> int:
        try:
            return await self.writer.write(partial(runs.create_run, **run))
        finally:
            self._runs_changed()

    async def keyword_run(self, survey_id: str, **opening: Any) -> int | None:
        found = await self._read_together(runs.everyone_runs, survey_id)
        if found is not None:  # the usual case: no write needed
            return found[0] if found[1] == "open" else None
        if not opening["opens_itself"]:
            return None
        try:
            return await self.writer.write(
                partial(runs.run_for_everyone, survey_id=survey_id, **opening)
            )
        finally:
            self._runs_changed()

    async def everyone_run(self, survey_id: str) -> RunRow | None:
        found = await self._read_together(runs.everyone_runs, survey_id)
        return None if found is None else await self.run(found[0])

    async def keyword_surveys(self) -> dict[str, bool]:
        return await self._read_together(runs.keyword_surveys_of, None)

    async def run(self, run_id: int) -> RunRow | None:
        return await self._scan(partial(runs.get_run, run_id=run_id))

    async def runs(self) -> list[RunRow]:
        return await self._scan(runs.list_runs)

    async def set_staff_channel(self, run_id: int, channel: str) -> None:
        await self.writer.write(partial(runs.set_staff_channel, run_id=run_id, channel=channel))

    async def set_reminder_policy(self, run_id: int, **policy: Any) -> None:
        await self.writer.write(partial(runs.set_reminder_policy, run_id=run_id, **policy))

    async def close_run(self, run_id: int, *, now: float) -> bool:
        try:
            closed = await self.writer.write(partial(runs.close_run, run_id=run_id, now=now))
        finally:
            self._runs_changed()
        self._recent.forget_run(run_id)
        return closed

    def _runs_changed(self) -> None:
        """A run was made or closed (or perhaps, if its write failed): a backend that
        remembers what it read of runs reads them again."""

    async def run_rows(self, run_id: int) -> RunRows:
        return await self._scan(partial(runs.rows_of, run_id=run_id))

    async def remember_references(
        self, *, run_id: int, references: list[tuple[str, int, str]], now: float
    ) -> None:
        await self.writer.write(
            partial(replies.remember_references, run_id=run_id, references=references, now=now)
        )

    async def reply_target(self, reference: str) -> ReplyTarget | None:
        return await self._read(replies.reply_target, reference)

    async def open_thread(self, pid: str, *, since: float) -> ReplyThread | None:
        return await self._read_together(replies.open_threads, (pid, since))

    async def close_thread(self, reference: str, *, now: float) -> bool:
        return await self.writer.write(partial(replies.close_thread, reference=reference, now=now))

    async def number_findings(
        self, *, run_id: int, findings: list[tuple[str, str, int]], now: float
    ) -> dict[str, int]:
        return await self.writer.write(
            partial(outcomes.number_findings, run_id=run_id, findings=findings, now=now)
        )

    async def act_on_finding(self, **action: Any) -> bool:
        return await self.writer.write(partial(outcomes.act_on_finding, **action))

    async def findings(self, run_id: int) -> list[FindingRow]:
        return await self._read(outcomes.findings_of, run_id)

    async def participants_of(self, run_id: int) -> list[TookPart]:
        return await self._scan(partial(outcomes.participants_of, run_id=run_id))

    async def mark_told(self, run_id: int, *, now: float) -> bool:
        return await self.writer.write(partial(outcomes.mark_told, run_id=run_id, now=now))

    async def export(
        self,
        run_id: int,
        write: Callable[[Iterator[tuple[ResponseRow, list[AnswerRow]]], int], T],
        *,
        shuffle: Callable[[list[int]], None] | None = None,
    ) -> T:
        def exported(connection: Connection) -> T:
            connection.execute("BEGIN")
            try:
                ids = runs.response_ids(connection, run_id, shuffle=shuffle)
                return write(runs.each_response(connection, ids), len(ids))
            finally:
                connection.execute("COMMIT")

        return await self._scan(exported)

    async def run_figures(
        self,
        run_id: int,
        *,
        until: float,
        lowest: Sequence[tuple[str, Any]],
        comments: Sequence[str],
    ) -> RunFigures:
        return await self._scan(
            partial(
                figures.figures_of, run_id=run_id, until=until, lowest=lowest, comments=comments
            )
        )

    async def review(
        self, *, response_id: int, question_id: str, decision: str, now: float
    ) -> None:
        await self.writer.write(
            partial(
                runs.review,
                response_id=response_id,
                question_id=question_id,
                decision=decision,
                now=now,
            )
        )

    async def in_progress(self, run_id: int, *, active_since: float) -> list[Reachable]:
        return await self._scan(partial(runs.in_progress, run_id=run_id, active_since=active_since))

    async def expire_conversations(self, survey_id: str, *, before: float) -> int:
        # only responses change: no cached conversation does
        return await self._in_chunks(
            partial(runs.expire_conversations, survey_id=survey_id, before=before)
        )

    # -- retention ------------------------------------------------------------------------

    async def forget_old_events(self, now: float) -> int:
        before = now - retention.EVENT_MEMORY_SECONDS
        return await self._in_chunks(partial(retention.forget_events_before, before=before))

    async def purge_answers(
        self, survey_id: str, *, closed_before: float, counted: list[str], now: float
    ) -> list[Purged]:
        due = partial(
            retention.runs_past_retention, survey_id=survey_id, closed_before=closed_before
        )
        purged = []
        for run_id in await self._scan(due):
            chunk = partial(retention.purge_run_chunk, run_id=run_id, counted=counted, now=now)
            answers = responses = 0
            while any(deleted := await self.writer.write(chunk)):
                answers, responses = answers + deleted[0], responses + deleted[1]
            self._recent.forget_run(run_id)
            purged.append(Purged(run_id, answers, responses))
        if purged:
            await self._compact()
        return purged

    async def kept_counts(self, run_id: int) -> list[tuple[str, Any, int]]:
        rows = await self._scan(partial(retention.kept_counts, run_id=run_id))
        return [(question, decoded(value), count) for question, value, count in rows]

    async def forget_addresses(self, *, inactive_since: float) -> int:
        forgotten = await self._in_chunks(
            partial(retention.forget_addresses, inactive_since=inactive_since)
        )
        if forgotten:
            self._recent.clear()  # rare, and cheaper than finding whose entries changed
            await self._compact()
        return forgotten

    async def _in_chunks(self, delete: Callable[[Connection], int]) -> int:
        """Run a chunked delete until a chunk comes back short; how many rows went."""
        deleted = 0
        while True:
            gone = await self.writer.write(delete)
            deleted += gone
            if gone < retention.DELETE_CHUNK:
                return deleted
