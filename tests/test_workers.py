"""Several civicbot workers on one PostgreSQL database, as a load balancer feeds them:
one person's messages may reach two workers at once, and an event may be delivered to
each. Two workers run here in one process, each with its own bot, locks and pool."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import STAFF_ROOM, Clock, command
from postgres_harness import Database, PostgresServer, for_workers

from adapters.memory import MemoryAdapter
from bot.app import Runtime, running
from bot.config import ConfigError
from bot.outbox import SWEEP_SECONDS
from storage.contract import open_storage
from storage.records import OutboxMessage, TurnRecord

PEOPLE = 20
MONDAY_8_UTC = datetime(2027, 1, 4, 8, 0, tzinfo=UTC).timestamp()


@asynccontextmanager
async def workers(
    database: Database, survey_folder: Path, count: int = 2
) -> AsyncIterator[list[Runtime]]:
    async with AsyncExitStack() as stack:
        yield [
            await stack.enter_async_context(
                running(
                    database=database.location,
                    survey_folder=survey_folder,
                    adapters=[MemoryAdapter],
                    environ=database.environ,
                )
            )
            for _ in range(count)
        ]


def chat(worker: Runtime) -> MemoryAdapter:
    adapter = worker.adapters[0]
    assert isinstance(adapter, MemoryAdapter)
    return adapter


def conflicts(worker: Runtime) -> float:
    return worker.metrics.registry.get_sample_value("civicbot_turn_conflicts_total")


async def at_both(
    first: Runtime, second: Runtime, *, events: Callable[[int], tuple[str, str]]
) -> None:
    """Each person's 'library' reaches both workers at the same moment, with these ids."""
    await asyncio.gather(
        *(
            push
            for n in range(PEOPLE)
            for worker, event in zip((first, second), events(n), strict=True)
            for push in [chat(worker).push(f"person{n}", "library", event_id=event)]
        )
    )


def sending(database: Database, survey_folder: Path, send: Callable | None, **options: Any):
    """A worker whose platform sends through `send` (None: as the memory adapter does),
    trying each reply once."""
    adapter = [lambda handler: MemoryAdapter(handler, on_send=send)]
    return database.worker(survey_folder, adapter, send_retry_delays=(), **options)


async def test_two_first_messages_at_two_workers_at_once_open_one_response(
    postgres: PostgresServer, survey_folder: Path
) -> None:
    database = for_workers(postgres)
    async with workers(database, survey_folder) as (first, second):
        await at_both(first, second, events=lambda n: (f"a{n}", f"b{n}"))
        raced = conflicts(first) + conflicts(second)
    per_person = database.rows(
        "SELECT turns, (SELECT count(*) FROM responses r WHERE r.pid = p.pid) FROM participants p"
    )
    assert sorted(per_person) == [(2, 1)] * PEOPLE  # both turns stored, one response each
    assert database.rows("SELECT count(*) FROM conversations") == [(PEOPLE,)]
    assert raced > 0  # the second of a pair was run again on what the first stored


async def test_an_event_delivered_to_two_workers_at_once_is_answered_once(
    postgres: PostgresServer, survey_folder: Path
) -> None:
    database = for_workers(postgres)
    async with workers(database, survey_folder) as (first, second):
        await at_both(first, second, events=lambda n: (f"e{n}", f"e{n}"))
        replies = len(chat(first).sent) + len(chat(second).sent)
    assert replies == PEOPLE
    assert database.rows("SELECT count(*), sum(turns) FROM participants") == [(PEOPLE, PEOPLE)]


async def test_a_survey_answered_through_alternating_workers_is_stored_whole(
    postgres: PostgresServer, survey_folder: Path
) -> None:
    database = for_workers(postgres)
    answers = ["library", "yes", "1", "3", "5", "fine", "skip"]
    async with workers(database, survey_folder) as pair:

        async def answer(person: str) -> None:
            for number, text in enumerate(answers):
                await chat(pair[number % 2]).push(person, text, event_id=f"{person}-{number}")

        await asyncio.gather(*(answer(f"person{n}") for n in range(PEOPLE)))
    assert database.rows("SELECT status, count(*) FROM responses GROUP BY status") == [
        ("completed", PEOPLE)
    ]
    assert database.rows("SELECT count(*) FROM answers") == [(PEOPLE * 5,)]


async def test_another_worker_sends_a_reply_only_once_its_senders_claim_ran_out(
    postgres: PostgresServer, survey_folder: Path
) -> None:
    database = for_workers(postgres)

    async def platform_down(outbound: object) -> None:
        raise ConnectionError("platform down")

    async with AsyncExitStack() as stack:
        stuck, healthy = [
            await stack.enter_async_context(sending(database, survey_folder, send))
            for send in (platform_down, None)
        ]
        await chat(stuck).push("ann", "library")
        assert await healthy.outbox.resend_unsent() == 0  # the first worker's to send
        database.rows("UPDATE outbox SET claimed_until = 0 RETURNING id")  # it died long ago
        assert await healthy.outbox.resend_unsent() == 1
        await healthy.outbox.settle()
        assert await stuck.outbox.resend_unsent() == 0  # now the other's, and sent
    assert [m.message.text[:21] for m in chat(healthy).sent] == ["City library feedback"]


async def test_a_worker_whose_clock_is_ten_minutes_ahead_leaves_a_held_reply_alone(
    postgres: PostgresServer, survey_folder: Path
) -> None:
    database = for_workers(postgres)

    async def platform_down(outbound: object) -> None:
        raise ConnectionError("platform down")

    def ten_minutes_ahead() -> float:
        return time.time() + 600

    async with AsyncExitStack() as stack:
        stuck, ahead = [
            await stack.enter_async_context(sending(database, survey_folder, send, clock=clock))
            for send, clock in ((platform_down, time.time), (None, ten_minutes_ahead))
        ]
        await chat(stuck).push("ann", "library")
        # by its own clock the reply was queued ten minutes ago and its claim ran out long
        # since; by the database's, which claims go by, it is held for two minutes yet
        swept = await ahead.outbox.resend_unsent(queued_before=ten_minutes_ahead() - SWEEP_SECONDS)
        assert swept == 0
        held = "SELECT claimed_until - extract(epoch FROM now()) > 60 FROM outbox"
        assert database.rows(held) == [(True,)]
        await chat(ahead).push("ann", "yes", event_id="from-the-fast-one")  # turns: in order
    assert chat(ahead).sent[-1].message.text.startswith("How often do you visit the library?")
    assert database.rows("SELECT count(*) FROM processed_events") == [(2,)]


async def test_two_workers_sweeping_a_dead_workers_replies_claim_each_once(
    postgres: PostgresServer,
) -> None:
    database = for_workers(postgres)
    dead = open_storage(database.location, environ=database.environ)
    for n in range(PEOPLE):
        replies = [OutboxMessage("memory", f"dm-{n}", f'{{"text": "{i}"}}') for i in range(5)]
        await dead.commit_turn(TurnRecord(event_key=f"e{n}", pid=f"p{n}", now=1.0, outbox=replies))
    await dead.close()
    database.rows("UPDATE outbox SET claimed_until = 0 RETURNING id")  # it died long ago
    sweepers = [open_storage(database.location, environ=database.environ) for _ in range(2)]
    try:
        claimed = await asyncio.gather(*(sweeper.unsent() for sweeper in sweepers))
        again = await asyncio.gather(*(sweeper.unsent() for sweeper in sweepers))
    finally:
        for sweeper in sweepers:
            await sweeper.close()
    first, second = ({row.id for row in rows} for rows in claimed)
    assert not first & second
    assert len(first | second) == PEOPLE * 5
    assert [{row.id for row in rows} for rows in again] == [first, second]  # each keeps its own


async def test_one_worker_leads_and_another_takes_over_when_its_session_ends(
    postgres: PostgresServer,
) -> None:
    database = for_workers(postgres)
    first, second = (open_storage(database.location, environ=database.environ) for _ in "ab")
    try:
        assert [await first.lead(), await second.lead()] == [True, False]
        assert await first.lead() is True  # it keeps leading
        database.rows(  # the leader's session dies, as with its host
            "SELECT pg_terminate_backend(pid) FROM pg_locks"
            " WHERE locktype = 'advisory' AND granted AND pid != pg_backend_pid()"
        )
        assert await second.lead() is True
        assert await first.lead() is False  # it knows it no longer leads
    finally:
        await first.close()
        await second.close()


async def test_a_digest_scheduled_through_one_worker_is_posted_once_by_the_leader(
    postgres: PostgresServer, survey_folder: Path, clock: Clock
) -> None:
    database = for_workers(postgres)
    clock.now = MONDAY_8_UTC  # 10:00 in Helsinki
    async with AsyncExitStack() as stack:
        pair = [
            await stack.enter_async_context(
                running(
                    database=database.location,
                    survey_folder=survey_folder,
                    adapters=[MemoryAdapter],
                    clock=clock,
                    environ=database.environ,
                    coordinators=frozenset({"memory:coord"}),
                    timezone="Europe/Helsinki",
                )
            )
            for _ in "ab"
        ]
        follower = pair[0] if not await pair[0].store.lead() else pair[1]
        await command(chat(follower), "survey start library for everyone")
        await command(chat(follower), "survey schedule 1 30 10 * * *")  # 8:30 UTC
        for text in ["library", "yes", "1", "1", "5", "Fine", "skip"]:
            await chat(follower).push("dee", text)
        told = [len(chat(worker).to(STAFF_ROOM)) for worker in pair]
        for _ in range(31):  # minute by minute to 10:31, each worker looking for schedules
            clock.advance(60)
            for worker in pair:
                await worker.scheduler.settled()
        posted = [chat(w).to(STAFF_ROOM)[n:] for w, n in zip(pair, told, strict=True)]
    digests = [m for messages in posted for m in messages if m.message.text.startswith("Digest")]
    assert len(digests) == 1
    assert "Responses: 1 (1 new)" in digests[0].message.text
    assert database.rows("SELECT count(*) FROM digests") == [(1,)]


@pytest.fixture
def other_folder(survey_folder: Path, tmp_path: Path) -> Path:
    """The same survey files, but one changed and one gone, as a half-done deployment."""
    folder = tmp_path / "other-surveys"
    folder.mkdir()
    for source in survey_folder.glob("*.yaml"):
        if source.name != "home-care.yaml":
            (folder / source.name).write_bytes(source.read_bytes())
    library = folder / "library-services.yaml"
    library.write_text(library.read_text().replace("City library feedback", "Library survey"))
    return folder


async def test_a_worker_with_other_survey_files_is_refused_with_the_difference_named(
    postgres: PostgresServer, survey_folder: Path, other_folder: Path
) -> None:
    database = for_workers(postgres)

    def worker(folder: Path):
        return running(
            database=database.location,
            survey_folder=folder,
            adapters=[MemoryAdapter],
            environ=database.environ,
        )

    async with worker(survey_folder):
        with pytest.raises(ConfigError) as refused:
            async with worker(other_folder):
                pass
    assert "another worker on this database serves other surveys" in str(refused.value)
    assert "library-services: changed; home-care: only there" in str(refused.value)
    async with worker(other_folder) as upgraded:  # once the others stopped: a new release
        await chat(upgraded).push("ann", "library")
        assert chat(upgraded).sent[-1].message.text.startswith("Library survey")
