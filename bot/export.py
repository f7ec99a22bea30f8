"""A run's answers as CSV: one row per response, one column per question, in survey order.

Safe to open in a spreadsheet: a text cell that a spreadsheet would run as a
formula (it starts with =, +, -, @, a tab or a carriage return) is prefixed with
an apostrophe, as OWASP advises, and the file starts with a UTF-8 byte-order mark
so that ä, ö and å read right. Participants' own words are redacted
(bot/redaction.py) unless a coordinator asks for them raw (`survey export RUN
raw`, audited like every command). A skipped question reads `[skipped]`; one the
person did not reach (another branch, or not yet) is an empty cell. Each row says
its status and whether it is complete, its language and channel, and who typed the
answers (`participant`, `intermediary`, or both).

In an anonymous survey the rows are shuffled and numbered 1, 2, 3 … anew in each
export, so neither their order nor their numbers follow invitations or response
ids, and nothing joins two exports' rows.
"""

from __future__ import annotations

import asyncio
import csv
import io
import random
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import BinaryIO

from bot.disk_file import DiskFile
from bot.events import Attachment
from bot.redaction import redacted
from conversations.questions import AnswerValue
from conversations.survey import Survey
from storage.contract import Storage
from storage.records import AnswerRow, ResponseRow

SKIPPED = "[skipped]"
# Before the answers: the row's number, how far it got, when, in which language and
# channel, and whether the participant or an intermediary typed the answers.
# An intermediary's answers say how the person was reached and which intermediary
# (the start of their pseudonymous id) typed them.
PROVENANCE = (
    "response",
    "status",
    "complete",
    "completed_at",
    "language",
    "channel",
    "given_by",
    "reached_by",
    "assisted_by",
)
ASSISTED_BY_SHOWN = 12  # characters of the intermediary's id: enough to tell them apart
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
PROGRESS_SECONDS = 5.0  # between "exported N of M" lines while a large run is written
PROGRESS_ROWS = 1000  # responses written between looks at the clock
REDACTED_KEPT = 10_000  # distinct texts whose redaction is remembered: memory stays flat


def write_csv(
    survey: Survey,
    rows: Iterable[tuple[ResponseRow, list[AnswerRow]]],
    out: BinaryIO,
    *,
    raw: bool = False,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Write the CSV file into `out` a response at a time, participants' own words redacted
    unless `raw`; how many responses it holds. An anonymous survey's rows come shuffled
    (Storage.export's `shuffle`) and are numbered as they come. `progress` hears how many
    are written every PROGRESS_SECONDS."""
    lang = survey.default_language
    words = set() if raw else {q.id for q in survey.questions if q.citizen_words}
    shown: dict[str, str] = {}  # many people write the same words: redact them once
    text = io.TextIOWrapper(out, encoding="utf-8-sig", newline="", write_through=False)
    writer = csv.writer(text)
    writer.writerow([*PROVENANCE, *(q.id for q in survey.questions)])
    number = 0
    told_at = time.monotonic()
    for number, (response, answers) in enumerate(rows, start=1):
        if len(shown) > REDACTED_KEPT:
            shown.clear()
        given: dict[str, AnswerValue] = {}
        for answer in answers:
            value = answer.value
            if answer.question_id in words and value is not None:
                said = str(value)
                value = shown.get(said) or shown.setdefault(said, redacted(said))
            given[answer.question_id] = value
        cells = [
            _answer_cell(
                q.cell(given[q.id], lang) if given.get(q.id) is not None else None,
                skipped=q.id in given,
            )
            for q in survey.questions
        ]
        completed_at = response.completed_at
        when = datetime.fromtimestamp(completed_at, UTC).isoformat() if completed_at else ""
        given_by = "/".join(sorted({answer.given_by for answer in answers}))
        complete = "completed" if response.status == "completed" else "partial"
        provenance = [
            number if survey.anonymous else response.id,
            response.status,
            complete,
            when,
            response.language or "",
            response.channel or "",
            given_by,
            response.reached_by or "",
            (response.assisted_by or "")[:ASSISTED_BY_SHOWN],
        ]
        writer.writerow([*provenance, *cells])
        due = number % PROGRESS_ROWS == 0 and time.monotonic() - told_at >= PROGRESS_SECONDS
        if progress is not None and due:
            progress(number)
            told_at = time.monotonic()
    text.flush()
    text.detach()  # `out` stays open for whoever reads the file
    return number


async def export_file(
    store: Storage,
    survey: Survey,
    run_id: int,
    *,
    raw: bool = False,
    progress: Callable[[int, int], Awaitable[None]] | None = None,
) -> tuple[str, Attachment]:
    """The run's answers as a CSV file on disk, with the line that introduces it. A large
    run is written off the event loop in constant memory; `progress` hears how far it got
    (written, of all) every few seconds."""
    name = f"{survey.id}-run-{run_id}{'-raw' if raw else ''}.csv"
    order = shuffled if survey.anonymous else None
    loop = asyncio.get_running_loop()
    told: list[asyncio.Future] = []
    file = DiskFile()

    def written(rows: Iterator[tuple[ResponseRow, list[AnswerRow]]], total: int) -> int:
        def heard(done: int) -> None:
            if progress is not None:
                told.append(asyncio.run_coroutine_threadsafe(progress(done, total), loop))

        return write_csv(survey, rows, file.writer, raw=raw, progress=heard)

    responses = await store.export(run_id, written, shuffle=order)
    for future in told:  # the last progress line goes before the file
        await asyncio.wrap_future(future)
    said = f"Run {run_id}: {responses} responses in {name}."
    if raw:
        said += " Unredacted: it holds whatever personal data people wrote; keep it safe."
    return said, Attachment(name, "text/csv", file)


def shuffled(ids: list[int]) -> None:
    """An anonymous survey's export order: unpredictable, new each time."""
    random.SystemRandom().shuffle(ids)


def _answer_cell(value: object, *, skipped: bool) -> object:
    if value is None:
        return SKIPPED if skipped else ""
    return safe_cell(value)


def safe_cell(value: object) -> object:
    """The value as a spreadsheet shows it, never runs it: text that would start a
    formula gets an apostrophe in front."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value
