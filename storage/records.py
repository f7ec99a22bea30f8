"""The plain data that crosses the storage contract (storage/contract.py): what the
bot hands storage to write and what it reads back. No SQL and no behaviour beyond
what a record says about itself."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from operator import attrgetter
from pathlib import Path
from typing import Any, NamedTuple


class StorageUnusable(Exception):
    """The storage cannot be used as configured; the message says why and what to do."""


class TurnConflict(Exception):
    """Another worker stored a turn of this participant after this one's was read: run it
    again on what is stored now."""


class StorageClosed(RuntimeError):
    """A write asked for after the storage was closed (civicbot is stopping)."""


ANONYMOUS_TIME_STEP = 3600.0  # seconds: anonymous responses' times are rounded up to this


# These two are made at every turn (read, or brought up to date after a commit): as
# named tuples they cost a third of what a frozen dataclass's checks cost.


class ConversationRow(NamedTuple):
    run_id: int
    response_id: int | None
    state: str  # the engine's, as it wrote it (State.to_json); storage never reads it
    finished: bool
    run_open: bool = True  # False once a coordinator closed the run: it takes no answers
    updated_at: float = 0.0  # when its state last changed: an answer, a start, a stop


class Loaded(NamedTuple):
    """What a turn needs to know before it runs. Whether its event was seen before is
    decided when it is written (`record_turn`), atomically with everything else."""

    known_participant: bool
    address: str | None  # the conversation id we last reached them at
    conversation: ConversationRow | None
    opted_out: bool = False  # said `unsubscribe` and has not written since
    # the participant's stored turns, as PostgreSQL counts them (SQLite leaves it 0): a
    # turn computed from this is stored only if no other worker stored one meanwhile
    version: int = 0
    assist: AssistSession | None = None  # staff typing someone else's answers (survey assist)
    accessible: bool = False  # has the accessible profile on (storage/profiles.py)


@dataclass(frozen=True, slots=True)
class AssistSession:
    """An intermediary typing the answers of a person they reached by phone or in person.
    What they type goes to `respondent`, a new participant for each session."""

    respondent: str  # the pid of the person helped
    survey_id: str
    run_id: int
    language: str
    stage: str  # "reached": how was the person reached? "agreed": did they agree? "answering"
    reached_by: str | None = None  # phone, in_person, home_visit


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    platform: str
    conversation_id: str
    body: str  # JSON, as the sender will read it back after a restart

    def __reduce__(self) -> tuple:
        return (OutboxMessage, (self.platform, self.conversation_id, self.body))


@dataclass(frozen=True, slots=True)
class StoredOutbox:
    id: int
    platform: str
    conversation_id: str
    body: str
    maybe_sent: bool = True  # it may have reached the platform: check before sending again
    queued_at: float = 0.0


@dataclass(frozen=True, slots=True)
class OutboxDepth:
    waiting: int
    waiting_long: int  # of them, queued before the time asked about
    oldest: float | None  # when the oldest was queued


@dataclass(frozen=True, slots=True)
class Undeliverable:
    """Replies the outbox gave up on, of one platform and for one reason."""

    platform: str
    failure: str
    count: int
    last_at: float


@dataclass(slots=True)
class TurnRecord:
    event_key: str
    pid: str
    now: float
    outbox: list[OutboxMessage]
    new_participant: bool = False
    address: tuple[str, str, str] | None = None  # (platform, user id, conversation id) if changed
    run_id: int | None = None
    start_response: bool = False  # open a response for the conversation
    # a new conversation row; None: with the response (an anonymous one opens its
    # response only when its first answer arrives, so that it is not made at invitation)
    start_conversation: bool | None = None
    anonymous: bool = False
    state: str | None = None  # the engine's state as JSON; None: the conversation is as it was
    response_id: int | None = None
    answer: tuple[str, Any] | None = None  # (question id, value); value None = skipped
    given_by: str = "participant"
    retract: str | None = None
    status: str | None = None  # the response's new status, if it changed
    finished: bool = False
    opted_out: bool | None = None  # True: `unsubscribe`; False: wrote again; None: as it was
    accessible: bool | None = None  # the accessible profile switched on or off; None: as it was
    reminded: bool = False  # a reminder of the conversation in `run_id`: count it
    channel: str | None = None  # a new response: the platform it comes through
    may_reply: bool | None = None  # the person's answer: may the service reply about it
    replies_withdrawn: bool = False  # `no replies`: no reply about any of their answers
    opens_thread: tuple[str, int] | None = None  # a staff reply: (reference, run id)
    told: bool = False  # the follow-up of the conversation in `run_id`: nobody gets it twice
    thread_message: str | None = None  # passed on to staff in this reference's thread
    language: str | None = None  # the response's language after this turn
    # the `Loaded.version` the turn was computed from; None: it reads nothing (a reminder)
    based_on: int | None = None
    # a new response an intermediary types: (the intermediary's pid, how the person was
    # reached), kept with the response
    assisted: tuple[str, str] | None = None
    # an intermediary's session after this turn: (their pid, the session; None: closed)
    assist: tuple[str, AssistSession | None] | None = None

    def __reduce__(self) -> tuple:
        # Pickled for the writer process at every turn: as the tuple of its fields this
        # takes a fifth of the time the dataclass's own way takes.
        return (TurnRecord, _turn_record_fields(self))

    @property
    def opens_conversation(self) -> bool:
        return self.start_response if self.start_conversation is None else self.start_conversation

    @property
    def kept_response(self) -> int | None:
        """The response the conversation row points to after this turn. An anonymous
        response loses its last link to the participant when it ends."""
        return None if (self.anonymous and self.finished) else self.response_id

    @property
    def response_time(self) -> float:
        """The time stored on the response and its answers. For an anonymous survey it is
        rounded up to the hour, so it cannot be matched to the exact moment of an event
        or a conversation that does name the participant."""
        if self.anonymous:
            return math.ceil(self.now / ANONYMOUS_TIME_STEP) * ANONYMOUS_TIME_STEP
        return self.now


@dataclass(frozen=True, slots=True)
class RunRow:
    id: int
    survey_id: str
    audience: str
    status: str  # open | closed
    staff_channel: str | None
    created_at: float
    responses: int = 0
    completed: int = 0
    people: int = 0  # who took part, however many times (a survey may allow repeats)
    opted_out: int = 0  # of those, how many have said `unsubscribe` since
    purged_at: float | None = None  # when retention deleted its answers
    remind_after: float | None = None  # seconds; the run's own reminder policy, if any
    remind_at_most: int | None = None
    closes_at: float | None = None  # an open run closes by itself then


@dataclass(frozen=True, slots=True)
class Reachable:
    """Someone with a conversation in a run that has not ended, and where to reach them."""

    pid: str
    platform: str
    conversation_id: str
    state: str  # the engine's, as it wrote it
    reminders: int = 0  # reminders of this conversation so far
    reminded_at: float | None = None
    updated_at: float = 0.0  # when the person last moved on in it


@dataclass(frozen=True, slots=True)
class ResponseRow:
    id: int
    status: str
    completed_at: float | None
    language: str | None = None  # as the response was last given in
    channel: str | None = None  # the platform it came through
    assisted_by: str | None = None  # the pid of the intermediary who typed it, if one did
    reached_by: str | None = None  # and how they reached the person: phone, in_person …


@dataclass(frozen=True, slots=True)
class AnswerRow:
    response_id: int
    question_id: str
    value: Any  # None when skipped
    given_by: str = "participant"  # or intermediary
    review: str | None = None  # a moderator's decision if it was held: released | kept


@dataclass(frozen=True, slots=True)
class ValueCount:
    """One distinct answer to a question in a run's completed responses."""

    question_id: str
    value: Any  # None: skipped
    review: str | None  # a moderator's decision on it (released | kept), if any
    count: int  # how many gave it
    new: int  # of them, how many completed since the last digest
    first_response: int | None = None  # the first response that gave it: a quote's source


@dataclass(frozen=True, slots=True)
class LowestComment:
    """An answer in a comment question of a completed response that gave a lowest point."""

    response_id: int  # to count people, never shown
    question_id: str
    value: Any
    review: str | None


@dataclass(frozen=True, slots=True)
class RunFigures:
    """What a digest reads of a run, summed up, from one snapshot."""

    last_digest: float | None
    statuses: dict[str, int]  # responses by status
    languages: dict[str | None, int]  # completed responses by language
    assisted: int  # completed responses an intermediary typed answers for
    reached_by: dict[str, int]  # completed assisted sessions, by how the person was reached
    new_completed: int  # responses completed since the last digest
    values: list[ValueCount]
    lowest_comments: list[LowestComment]


@dataclass(frozen=True, slots=True)
class RunRows:
    """What a digest or an export reads of a run, all from one snapshot."""

    last_digest: float | None
    responses: list[ResponseRow]
    answers: list[AnswerRow]


@dataclass(frozen=True, slots=True)
class ScheduleRow:
    id: int
    run_id: int
    cron: str
    timezone: str
    created_at: float
    last_fired_at: float | None
    made_by: str | None = None  # platform:user of the coordinator who made it
    made_in: str | None = None  # platform:conversation where they did


@dataclass(frozen=True, slots=True)
class RunScheduleRow:
    id: int
    command: str  # `survey start …` without its schedule
    platform: str
    user_id: str
    conversation_id: str
    at: float | None  # once, then
    cron: str | None  # or again and again
    timezone: str
    until: float | None
    created_at: float
    last_fired_at: float | None
    last_run_id: int | None
    ended: bool


@dataclass(frozen=True, slots=True)
class StoredResponse:
    survey_id: str
    status: str
    answers: list[tuple[str, Any]]  # (question id, value; None: skipped)
    may_reply: bool | None = None  # None: never asked


@dataclass(frozen=True, slots=True)
class FindingRow:
    number: int  # F1, F2 … within its run
    key: str
    label: str
    people: int
    status: str | None  # noted | planned | done | declined
    note: str | None  # in the survey's first language
    notes: dict[str, str]  # the note in the survey's other languages


@dataclass(frozen=True, slots=True)
class TookPart:
    """Someone who took part in a run, where a follow-up reaches them."""

    pid: str
    platform: str
    conversation_id: str
    language: str | None  # the one they took part in
    told: bool  # they have had the run's follow-up
    waiting: bool = False  # a message to them (the follow-up, say) is still in the outbox


@dataclass(frozen=True, slots=True)
class ReplyThread:
    """An open thread a staff reply started with someone, as they write back."""

    reference: str
    run_id: int
    survey_id: str
    staff_channel: str | None
    messages: int  # passed on so far


@dataclass(frozen=True, slots=True)
class ReplyTarget:
    """What `survey reply REF` needs to know of the answer a reference names: never shown
    to staff beyond why a reply cannot go."""

    run_id: int
    survey_id: str
    purged: bool  # the run's answers are gone with its retention
    response_found: bool  # False: erased on the person's request
    pid: str | None  # None: an anonymous response
    may_reply: bool | None
    language: str | None
    value: Any  # what they wrote
    platform: str | None  # where to reach them; None: the address was forgotten
    conversation_id: str | None
    replies: int = 0  # staff replies to the reference since `replies_since`, a day at most
    replies_since: float | None = None


@dataclass(frozen=True, slots=True)
class Erased:
    responses: int
    answers: int
    outbox_ids: list[int]  # the confirmation, queued to be sent


@dataclass(frozen=True, slots=True)
class AuditEntry:
    at: float
    platform: str
    user_id: str  # the staff member's platform id (staff, never participants, are audited)
    command: str
    allowed: bool
    outcome: str
    run_id: int | None


@dataclass(frozen=True, slots=True)
class Approval:
    """A command held for a second coordinator, as the first one typed it."""

    id: int
    requested_at: float
    platform: str
    user_id: str
    conversation_id: str
    command: str
    audience: int  # how many people it would message
    approved_at: float | None
    approved_by: str | None  # platform:user


@dataclass(frozen=True, slots=True)
class StaffAccount:
    name: str
    role: str
    created_at: float


@dataclass(frozen=True, slots=True)
class Purged:
    """What retention deleted of one run."""

    run_id: int
    answers: int
    responses: int


@dataclass(frozen=True, slots=True)
class Backup:
    database: Path
    size: int  # bytes
    key: Path | None  # None: the key is not a file (CIVICBOT_PSEUDONYM_KEY), or there is none


_turn_record_fields = attrgetter(*(field.name for field in fields(TurnRecord)))
