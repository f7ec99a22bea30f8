"""The storage contract: everything the bot asks of storage, and what each call promises.

`bot/` imports this module and `storage.records` (the plain data it exchanges) and
nothing else of storage. What coordinators' commands ask of it (digests, schedules,
approvals, staff accounts) is in `storage.staff_contract`, which `Storage` includes.
A backend is a class with these methods; the SQLite one is `storage.store.Store`,
and `tests/test_storage_contract.py` holds the suite that every backend must pass
unchanged.

Guarantees that hold for every method unless it says otherwise:
- A write that returned has been committed durably; a write that raised may or may
  not have been (a redelivery of the same event then changes nothing).
- Reads see every write that returned before they started.
- Times are seconds since the epoch, as the caller's clock gave them.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar, runtime_checkable

from storage.pseudonyms import KEY_VARIABLE as PSEUDONYM_KEY_VARIABLE
from storage.records import (
    AnswerRow,
    Backup,
    ConversationRow,
    Erased,
    FindingRow,
    Loaded,
    OutboxDepth,
    Purged,
    Reachable,
    ReplyTarget,
    ReplyThread,
    ResponseRow,
    RunFigures,
    RunRow,
    RunRows,
    StorageUnusable,
    StoredOutbox,
    StoredResponse,
    TookPart,
    TurnRecord,
    Undeliverable,
)
from storage.staff_contract import StaffStorage
from storage.wave_store import WaveStorage
from storage.web_contract import WebStorage

T = TypeVar("T")


@runtime_checkable
class Storage(StaffStorage, WaveStorage, WebStorage, Protocol):
    # -- participants and their turns ------------------------------------------------

    def pseudonym(self, platform: str, user_id: str) -> str:
        """The participant's stored id: a keyed hash, the same for the same person on
        every start and every worker, from which the platform id cannot be read back."""
        ...

    async def load(self, pid: str) -> Loaded:
        """What a turn needs to know of the participant before it runs: whether they are
        known, where they were last reached, and their current conversation (with
        whether its run is still open)."""
        ...

    async def commit_turn(self, turn: TurnRecord) -> list[int] | None:
        """Store a whole turn atomically: event id, participant and address, response,
        conversation state, answer or retraction, status, and the replies to send.
        Returns the replies' outbox ids in the order given, or None when the event id
        was stored before (then nothing changes). Fills in `turn.response_id` for a
        turn that starts a response. Turns of one participant must not be committed
        concurrently; the caller orders them."""
        ...

    async def erase_participant(
        self,
        pid: str,
        *,
        event_key: str,
        now: float,
        platform: str,
        conversation_id: str,
        confirmation: str,
    ) -> Erased | None:
        """Erase everything linked to the participant (responses, answers,
        conversations, address, unsent replies to them) and queue `confirmation`,
        atomically with the event that asked; None if that event was handled before.
        Anonymous answers, linked to nobody, stay. The erased data leaves the files."""
        ...

    async def conversation_in(self, pid: str, run_id: int) -> ConversationRow | None:
        """The participant's conversation in that run, current or not; None if they never
        had one (an anonymous one says that they took part, not what they answered)."""
        ...

    async def stored_responses(self, pid: str) -> list[StoredResponse]:
        """The participant's responses with their answers, oldest first (not anonymous
        ones: nothing links those to anybody)."""
        ...

    async def first_delivery(self, event_key: str, *, now: float) -> bool:
        """Note an event that is handled outside a turn (a coordinator's command): True the
        first time its key is seen, False for every delivery after (until retention)."""
        ...

    async def serve_surveys(self, surveys: dict[str, str], *, now: float) -> dict[str, str] | None:
        """Note the surveys (id: fingerprint) this worker serves; None if that is fine, or
        the surveys of another worker running on the same storage, which differ (then
        this one must not start: people would get different questions from each).
        A storage only one worker can open always says None."""
        ...

    async def lead(self) -> bool:
        """Whether this worker leads now: it runs the scheduled work that must run once
        however many workers share the storage (digests, reminders, retention). Asked at
        each such job; another worker takes over soon after the leader stops or dies.
        A storage only one worker can open always leads."""
        ...

    # -- the outbox -------------------------------------------------------------------

    async def unsent(
        self, *, queued_before: float | None = None, platforms: Sequence[str] | None = None
    ) -> list[StoredOutbox]:
        """Replies queued and neither forgotten nor dead, in the order they were queued;
        only those to `platforms` if given (those this worker has adapters for)."""
        ...

    async def outbox_depth(self, *, queued_before: float) -> OutboxDepth:
        """How many replies wait to be sent (neither forgotten nor dead), how many of them
        were queued before `queued_before`, and the oldest's time; whoever holds them. It
        claims nothing: health checks and metrics read it."""
        ...

    async def note_failure(
        self,
        outbox_id: int,
        *,
        refused: bool,
        failure: str,
        lasting: bool,
        budget: int,
        now: float,
    ) -> bool:
        """A round of tries to send the reply failed: `refused` when the platform surely
        did not take it (else it may have, and is checked before the next try), with the
        platform's reason. True when the reply is now dead, never to be tried again: the
        refusal is `lasting`, or this was its `budget`th failed round."""
        ...

    async def undeliverable(self) -> list[Undeliverable]:
        """The dead replies, counted by platform and reason."""
        ...

    def forget_sent(self, outbox_ids: list[int]) -> asyncio.Future[None]:
        """Delivered replies leave the outbox, soon but not necessarily at once (nobody
        need await it): a crash before that only means they are sent once more. The
        future is done once they are gone, or holds why they could not be removed."""
        ...

    async def flushed(self) -> None:
        """Wait until everything submitted so far, forgotten replies too, is committed."""
        ...

    def restarts(self) -> int:
        """How often the writing side had to be started again since the storage opened
        (a writer process that died); for /metrics."""
        ...

    # -- runs --------------------------------------------------------------------------

    async def create_run(
        self, *, survey_id: str, audience: str, staff_channel: str | None, now: float
    ) -> int:
        """A new open run of the survey; its id, greater than every earlier run's."""
        ...

    async def keyword_run(
        self, survey_id: str, *, now: float, opens_itself: bool, staff_channel: str | None
    ) -> int | None:
        """The run that typing the survey's keyword joins: the open run for everyone. A
        survey that `opens_itself` gets one (with `staff_channel`) the first time, one only
        however many ask at once. None when there is none: a coordinator has not opened
        one, or closed it and opened none since."""
        ...

    async def everyone_run(self, survey_id: str) -> RunRow | None:
        """The survey's latest run for everyone, an open one first, or None."""
        ...

    async def keyword_surveys(self) -> dict[str, bool]:
        """For each survey that has had a run for everyone, whether one is open now."""
        ...

    async def run(self, run_id: int) -> RunRow | None:
        """The run with its counts: responses (not declined), completed ones, people who
        took part, and how many of those have opted out since."""
        ...

    async def runs(self) -> list[RunRow]:
        """Every run, with counts, by id."""
        ...

    async def set_staff_channel(self, run_id: int, channel: str) -> None:
        """Where the run's digests go from now on (`platform:conversation`)."""
        ...

    async def set_reminder_policy(
        self, run_id: int, *, after: float | None, at_most: int | None
    ) -> None:
        """The run's reminders: `after` seconds without an answer, at most `at_most` times
        (None, None: back to its survey's policy)."""
        ...

    async def close_run(self, run_id: int, *, now: float) -> bool:
        """The run takes no more answers: from now on `load` says its run is closed. False
        if it was closed already (of two closing it at once, exactly one gets True)."""
        ...

    async def run_rows(self, run_id: int) -> RunRows:
        """The run's responses, answers and digest watermark, from one snapshot, so a
        turn committed meanwhile is either wholly in them or not at all."""
        ...

    async def remember_references(
        self, *, run_id: int, references: list[tuple[str, int, str]], now: float
    ) -> None:
        """Keep the (reference, response id, question id) of quotes a digest of the run
        shows, until the run's answers go with its retention."""
        ...

    async def reply_target(self, reference: str) -> ReplyTarget | None:
        """Where a reply to the answer named by `reference` would go and whether it may:
        None when no digest gave that reference (or it expired with its run)."""
        ...

    async def open_thread(self, pid: str, *, since: float) -> ReplyThread | None:
        """The person's latest reply thread opened since `since` and not closed: where what
        they write now goes (a staff reply opens one, in its turn: `opens_thread`)."""
        ...

    async def close_thread(self, reference: str, *, now: float) -> bool:
        """Close the reference's thread; False if there was none open."""
        ...

    async def number_findings(
        self, *, run_id: int, findings: list[tuple[str, str, int]], now: float
    ) -> dict[str, int]:
        """Each (key, label, people) finding's number within the run: the same key keeps
        its number from digest to digest, a new one gets the next; label and count are
        brought up to date."""
        ...

    async def act_on_finding(
        self,
        *,
        run_id: int,
        number: int,
        status: str,
        note: str,
        notes: dict[str, str],
        now: float,
    ) -> bool:
        """Record what staff did about finding `number`, with the note in the survey's
        first language and `notes` in others; False when the run has none."""
        ...

    async def findings(self, run_id: int) -> list[FindingRow]:
        """The run's findings by number, with what staff did about each."""
        ...

    async def participants_of(self, run_id: int) -> list[TookPart]:
        """Everyone who took part in the run and can be reached and did not opt out,
        with their language and whether they have had its follow-up; nothing in it is
        linked to an answer."""
        ...

    async def mark_told(self, run_id: int, *, now: float) -> bool:
        """Note that the run's follow-up went out; False if it had before."""
        ...

    async def export(
        self,
        run_id: int,
        write: Callable[[Iterator[tuple[ResponseRow, list[AnswerRow]]], int], T],
        *,
        shuffle: Callable[[list[int]], None] | None = None,
    ) -> T:
        """Hand `write` the run's responses one by one with their answers, and how many
        there are, from one snapshot, in id order or as `shuffle` orders their ids; `write`
        runs off the event loop and holds only what it keeps. Its result."""
        ...

    async def run_figures(
        self,
        run_id: int,
        *,
        until: float,
        lowest: Sequence[tuple[str, Any]],
        comments: Sequence[str],
    ) -> RunFigures:
        """The run's digest figures from one snapshot: its watermark, responses by status,
        completed ones by language and assisted; each distinct answer of the completed
        responses with how many gave it (and how many completed after the watermark and
        by `until`); and for completed
        responses that gave one of the `lowest` (question, value) answers, their answers
        to the `comments` questions. Its size follows the distinct answers, not all."""
        ...

    async def review(
        self, *, response_id: int, question_id: str, decision: str, now: float
    ) -> None:
        """Record a moderator's decision on a held answer ('released' or 'kept'), replacing
        any earlier one; run_rows then carries it with the answer."""
        ...

    async def in_progress(self, run_id: int, *, active_since: float) -> list[Reachable]:
        """Participants of the run still on their way through it, with where to reach
        them: not finished, stopped, or expired (unchanged since `active_since`), and not
        opted out."""
        ...

    async def expire_conversations(self, survey_id: str, *, before: float) -> int:
        """Mark the survey's responses expired whose conversation has not changed since
        `before` (in chunks); how many. Their conversations stay, so that whoever comes
        back is told the survey moved on."""
        ...

    # -- retention and lifecycle -------------------------------------------------------

    async def forget_old_events(self, now: float) -> int:
        """Forget processed event ids past their retention, in chunks; how many went.
        Redeliveries older than that are beyond any platform's retry window."""
        ...

    async def purge_answers(
        self, survey_id: str, *, closed_before: float, counted: list[str], now: float
    ) -> list[Purged]:
        """Delete the answers, responses and conversations of the survey's runs closed
        before `closed_before`, in chunks, keeping first the counts of the values given to
        the `counted` questions; what went, run by run. The run rows stay. Deleted data
        leaves the database files (overwritten, and the files compacted)."""
        ...

    async def kept_counts(self, run_id: int) -> list[tuple[str, Any, int]]:
        """(question id, value, how often) kept of a purged run, by question, commonest first."""
        ...

    async def forget_addresses(self, *, inactive_since: float) -> int:
        """Delete the addresses of people not seen since `inactive_since` (neither their
        address nor any conversation changed since), in chunks; how many. They are
        reached again when they next write. Deleted data leaves the database files."""
        ...

    async def close(self) -> None:
        """Commit what is in flight and release the database; closing again does nothing."""
        ...


def is_postgres_url(database: object) -> bool:
    return isinstance(database, str) and database.startswith(("postgresql://", "postgres://"))


def open_storage(
    database: Path | str,
    *,
    environ: Mapping[str, str] | None = None,
    backup_before_migrating: bool = True,
) -> Storage:
    """Open (creating and migrating if need be) the storage at `database`: a SQLite file,
    or a `postgresql://` URL. On SQLite, the pseudonym key is from `environ` or beside the
    file, and a database with data is backed up beside itself before a migration unless
    told not to; on PostgreSQL both the key and the password are from `environ` (backups
    there are the server's: docs/scaling.md). Call from a running event loop."""
    environ = os.environ if environ is None else environ
    if is_postgres_url(database):
        from storage.postgres import PostgresStore

        return PostgresStore.open(str(database), environ=environ)
    from storage.store import Store

    return Store.open(
        Path(database), environ=environ, backup_before_migrating=backup_before_migrating
    )


class BackupError(Exception):
    """The backup could not be made; the message says why. Nothing was left behind."""


def back_up(database: Path, destination: Path) -> Backup:
    """A consistent copy of the database at `destination`, taken while the bot runs,
    checked, readable by its owner only, never over an existing file; the pseudonym
    key file (without which returning participants look new) is copied beside it."""
    from storage.backup import back_up

    return back_up(database, destination)


__all__ = [
    "PSEUDONYM_KEY_VARIABLE",
    "BackupError",
    "Storage",
    "StorageUnusable",
    "back_up",
    "open_storage",
]
