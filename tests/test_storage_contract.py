"""The storage contract's suite: what every backend promises (storage/contract.py), tested
through the contract alone. A new backend adds itself to BACKENDS and passes it unchanged."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from pathlib import Path

import pytest
from figures_oracle import figures_from

from storage.contract import Storage, open_storage
from storage.records import AssistSession, Erased, OutboxMessage, TurnRecord

DAY = 24 * 3600.0
OPENS_ITSELF = {"opens_itself": True, "staff_channel": None}
Opener = Callable[[], Storage]


def sqlite_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Opener:
    return lambda: open_storage(tmp_path / "contract.db", environ={"CIVICBOT_PSEUDONYM_KEY": "k"})


def postgres_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Opener:
    server = request.getfixturevalue("postgres")  # skipped, with the reason, where missing
    url = server.new_database()
    return lambda: open_storage(url, environ=server.environ)


BACKENDS = {"sqlite": sqlite_backend, "postgresql": postgres_backend}


@pytest.fixture(params=sorted(BACKENDS))
def reopen(request: pytest.FixtureRequest, tmp_path: Path) -> Opener:
    """Opens the backend; again after a close, the same data."""
    return BACKENDS[request.param](request, tmp_path)


@pytest.fixture
async def storage(reopen: Opener) -> AsyncIterator[Storage]:
    opened = reopen()
    yield opened
    await opened.close()


async def reopened(storage: Storage, reopen: Opener, check: Callable[[Storage], Awaitable]):
    """Close the storage, open it again, and run `check` on what it holds."""
    await storage.close()
    again = reopen()
    try:
        return await check(again)
    finally:
        await again.close()


def reply(text: str, to: str = "dm-1") -> OutboxMessage:
    return OutboxMessage("memory", to, f'{{"text": "{text}"}}')


def start(event: str, pid: str, run_id: int, *, anonymous: bool = False, **more) -> TurnRecord:
    """A participant's first turn: they start a response in the run."""
    fields = {
        "event_key": event,
        "pid": pid,
        "now": 10.0,
        "outbox": [reply("consent?", f"dm-{pid}")],
        "new_participant": True,
        "address": ("memory", pid, f"dm-{pid}"),
        "run_id": run_id,
        "start_response": True,
        "anonymous": anonymous,
        "state": '{"at": "consent"}',
        "status": "started",
    }
    return TurnRecord(**(fields | more))


def answer(event: str, pid: str, run_id: int, response_id: int, **more) -> TurnRecord:
    fields = {
        "event_key": event,
        "pid": pid,
        "now": 20.0,
        "outbox": [reply("next?", f"dm-{pid}")],
        "run_id": run_id,
        "response_id": response_id,
        "state": '{"at": "q2"}',
        "answer": ("q1", "weekly"),
        "status": "answering",
    }
    return TurnRecord(**(fields | more))


async def erase(
    storage: Storage, pid: str, *, event_key: str, now: float, confirmation: str
) -> Erased | None:
    """`forget me` from the participant's direct conversation on the memory platform."""
    return await storage.erase_participant(
        pid,
        event_key=event_key,
        now=now,
        platform="memory",
        conversation_id=f"dm-{pid}",
        confirmation=confirmation,
    )


async def new_run(storage: Storage, audience: str = "open") -> int:
    return await storage.create_run(
        survey_id="library", audience=audience, staff_channel="memory:staff", now=1.0
    )


async def test_the_backend_offers_every_method_of_the_contract(storage: Storage) -> None:
    assert isinstance(storage, Storage)


async def test_loads_asked_for_together_each_get_their_own_participant(
    storage: Storage, reopen: Opener
) -> None:
    run_id = await new_run(storage)
    await storage.commit_turn(start("s1", "p1", run_id))
    await storage.commit_turn(start("s2", "p2", run_id, accessible=True))

    async def together(again: Storage) -> list:  # reopened: nothing cached, all read
        return await asyncio.gather(*(again.load(pid) for pid in ["p2", "nobody", "p1", "p2"]))

    loads = await reopened(storage, reopen, together)
    assert [(x.known_participant, x.address, x.accessible) for x in loads] == [
        (True, "dm-p2", True),
        (False, None, False),
        (True, "dm-p1", False),
        (True, "dm-p2", True),
    ]


async def test_a_turn_is_stored_whole_with_its_replies_in_order(storage: Storage) -> None:
    run_id = await new_run(storage)
    first = start("e1", "p1", run_id, outbox=[reply("hello"), reply("consent?")])
    ids = await storage.commit_turn(first)
    assert ids is not None
    assert len(ids) == 2
    assert ids[0] < ids[1]
    assert first.response_id is not None
    loaded = await storage.load("p1")
    assert (loaded.known_participant, loaded.address) == (True, "dm-p1")
    assert (loaded.conversation.run_id, loaded.conversation.state) == (run_id, '{"at": "consent"}')
    assert [r.body for r in await storage.unsent()] == [reply("hello").body, reply("consent?").body]


async def test_a_redelivered_event_changes_nothing(storage: Storage) -> None:
    run_id = await new_run(storage)
    first = start("e1", "p1", run_id)
    await storage.commit_turn(first)
    again = replace(start("e1", "p1", run_id), state='{"at": "elsewhere"}')
    assert await storage.commit_turn(again) is None
    assert (await storage.load("p1")).conversation.state == '{"at": "consent"}'
    assert len(await storage.unsent()) == 1


async def test_the_same_event_twice_at_once_is_stored_once(storage: Storage) -> None:
    run_id = await new_run(storage)
    stored = await asyncio.gather(*(storage.commit_turn(start("e1", "p1", run_id)) for _ in "ab"))
    assert stored.count(None) == 1
    assert (await storage.run(run_id)).responses == 1


async def test_a_turn_that_cannot_be_stored_fails_alone_and_the_turns_beside_it_are_kept(
    storage: Storage,
) -> None:
    run_id = await new_run(storage)
    broken = start("e2", "p2", run_id, outbox=[OutboxMessage("memory", "dm-p2", None)])
    outcomes = await asyncio.gather(
        storage.commit_turn(start("e1", "p1", run_id)),
        storage.commit_turn(broken),  # a reply without a body: the outbox refuses it
        storage.commit_turn(start("e3", "p3", run_id)),
        return_exceptions=True,
    )
    assert isinstance(outcomes[1], Exception)
    assert all(isinstance(ids, list) and len(ids) == 1 for ids in (outcomes[0], outcomes[2]))
    assert not (await storage.load("p2")).known_participant
    assert (await storage.run(run_id)).responses == 2


async def test_an_unknown_participant_loads_as_unknown(storage: Storage) -> None:
    loaded = await storage.load("nobody")
    assert (loaded.known_participant, loaded.address, loaded.conversation) == (False, None, None)


async def test_a_conversation_reads_back_as_its_last_turn_left_it(
    storage: Storage, reopen: Opener
) -> None:
    run_id = await new_run(storage)
    first = start("e1", "p1", run_id)
    await storage.commit_turn(first)
    await storage.commit_turn(answer("e2", "p1", run_id, first.response_id, finished=True))
    before = await storage.load("p1")
    assert before.conversation.finished
    assert await reopened(storage, reopen, lambda again: again.load("p1")) == before


@pytest.mark.parametrize("text", ["plain", "🙂 שלום"])
async def test_unsent_replies_survive_reopening(
    storage: Storage, reopen: Opener, text: str
) -> None:
    run_id = await new_run(storage)
    await storage.commit_turn(start("e1", "p1", run_id, outbox=[reply(text)]))
    unsent = await reopened(storage, reopen, lambda again: again.unsent())
    assert [(row.conversation_id, row.body) for row in unsent] == [("dm-1", reply(text).body)]


async def test_sent_replies_leave_the_outbox_and_old_ones_can_be_picked(storage: Storage) -> None:
    run_id = await new_run(storage)
    ids = await storage.commit_turn(start("e1", "p1", run_id, now=10.0))
    later = await storage.commit_turn(start("e2", "p2", run_id, now=50.0))
    assert [row.id for row in await storage.unsent(queued_before=20.0)] == ids
    await storage.forget_sent(ids)  # done once they are gone
    assert [row.id for row in await storage.unsent()] == later


async def test_a_refused_reply_is_sent_again_unchecked_and_one_refused_for_good_is_dead(
    storage: Storage,
) -> None:
    run_id = await new_run(storage)
    (refused,) = await storage.commit_turn(start("e1", "p1", run_id))
    (lost,) = await storage.commit_turn(start("e2", "p2", run_id))
    (too_large,) = await storage.commit_turn(start("e3", "p3", run_id))
    assert [row.maybe_sent for row in await storage.unsent()] == [True, True, True]  # a crash
    failure = {"budget": 3, "now": 60.0}
    assert not await storage.note_failure(
        refused, refused=True, failure="ratelimited", lasting=False, **failure
    )
    assert not await storage.note_failure(
        lost, refused=False, failure="reset", lasting=False, **failure
    )
    assert await storage.note_failure(
        too_large, refused=True, failure="M_TOO_LARGE", lasting=True, **failure
    )
    unsent = await storage.unsent()
    assert [(row.id, row.maybe_sent) for row in unsent] == [(refused, False), (lost, True)]
    dead = await storage.undeliverable()
    assert [(d.platform, d.failure, d.count, d.last_at) for d in dead] == [
        ("memory", "M_TOO_LARGE", 1, 60.0)
    ]


async def test_a_reply_that_keeps_failing_is_dead_when_its_budget_is_spent(
    storage: Storage,
) -> None:
    run_id = await new_run(storage)
    (outbox_id,) = await storage.commit_turn(start("e1", "p1", run_id))
    failure = {"refused": True, "failure": "channel_not_found", "lasting": False, "budget": 3}
    dead = [await storage.note_failure(outbox_id, **failure, now=float(n)) for n in range(3)]
    assert dead == [False, False, True]
    assert await storage.unsent() == []


async def test_the_keyword_run_of_an_open_survey_is_made_once_and_ends_when_closed(
    storage: Storage,
) -> None:
    made = await asyncio.gather(
        *(
            storage.keyword_run("library", now=1.0, opens_itself=True, staff_channel="web:staff")
            for _ in range(5)
        )
    )
    assert len(set(made)) == 1
    assert (await storage.run(made[0])).staff_channel == "web:staff"
    assert await storage.keyword_run("library", now=2.0, **OPENS_ITSELF) == made[0]
    await storage.close_run(made[0], now=3.0)
    assert await storage.keyword_run("library", now=4.0, **OPENS_ITSELF) is None
    assert await storage.keyword_surveys() == {"library": False}
    reopened_run = await new_run(storage)  # a coordinator opens it for everyone again
    assert await storage.keyword_run("library", now=5.0, **OPENS_ITSELF) == reopened_run
    assert await storage.keyword_surveys() == {"library": True}
    assert (await storage.everyone_run("library")).id == reopened_run


async def test_the_keyword_of_a_survey_nobody_opened_joins_no_run(storage: Storage) -> None:
    assert (
        await storage.keyword_run("youth", now=1.0, opens_itself=False, staff_channel=None)
    ) is None
    assert await storage.runs() == []
    assert await storage.keyword_surveys() == {}


async def test_closing_a_run_closes_the_conversations_in_it(
    storage: Storage, reopen: Opener
) -> None:
    run_id = await new_run(storage)
    await storage.commit_turn(start("e1", "p1", run_id))
    assert (await storage.load("p1")).conversation.run_open
    await storage.close_run(run_id, now=5.0)
    assert not (await storage.load("p1")).conversation.run_open
    assert (await storage.run(run_id)).status == "closed"
    after = await reopened(storage, reopen, lambda again: again.load("p1"))
    assert not after.conversation.run_open


async def test_runs_count_people_answering_and_completed(storage: Storage) -> None:
    run_id = await new_run(storage)
    other = await new_run(storage, audience="users:ann")
    for n, status in enumerate(["completed", "declined", "answering"]):
        first = start(f"s{n}", f"p{n}", run_id)
        await storage.commit_turn(first)
        await storage.commit_turn(
            answer(f"a{n}", f"p{n}", run_id, first.response_id, status=status)
        )
    listed = await storage.runs()
    assert [(r.id, r.responses, r.completed) for r in listed] == [(run_id, 2, 1), (other, 0, 0)]
    assert await storage.run(other) == listed[1]
    assert await storage.run(9999) is None


async def test_a_runs_rows_hold_its_answers_as_given(storage: Storage) -> None:
    run_id = await new_run(storage)
    first = start("e1", "p1", run_id)
    await storage.commit_turn(first)
    for event, value in [("e2", ["loans", "events"]), ("e3", None)]:
        question = "services" if value else "age"
        await storage.commit_turn(
            answer(event, "p1", run_id, first.response_id, answer=(question, value))
        )
    rows = await storage.run_rows(run_id)
    assert sorted((a.response_id, a.question_id, a.value) for a in rows.answers) == [
        (first.response_id, "age", None),
        (first.response_id, "services", ["loans", "events"]),
    ]
    assert [(r.id, r.status) for r in rows.responses] == [(first.response_id, "answering")]
    assert rows.last_digest is None


async def test_a_retracted_answer_is_gone(storage: Storage) -> None:
    run_id = await new_run(storage)
    first = start("e1", "p1", run_id)
    await storage.commit_turn(first)
    await storage.commit_turn(answer("e2", "p1", run_id, first.response_id))
    await storage.commit_turn(
        answer("e3", "p1", run_id, first.response_id, answer=None, retract="q1")
    )
    assert (await storage.run_rows(run_id)).answers == []


async def test_people_whose_conversation_has_not_ended_can_be_reminded(storage: Storage) -> None:
    run_id = await new_run(storage)
    for pid, finished in [("p1", False), ("p2", True)]:
        first = start(f"s-{pid}", pid, run_id)
        await storage.commit_turn(first)
        await storage.commit_turn(
            answer(f"a-{pid}", pid, run_id, first.response_id, finished=finished)
        )
    waiting = await storage.in_progress(run_id, active_since=0.0)
    assert [(r.pid, r.platform, r.conversation_id, r.state) for r in waiting] == [
        ("p1", "memory", "dm-p1", '{"at": "q2"}')
    ]


async def test_stopped_quiet_and_opted_out_people_are_not_reminded(storage: Storage) -> None:
    run_id = await new_run(storage)
    for pid, more in [
        ("going", {}),
        ("stopped", {"status": "stopped"}),
        ("quiet", {"now": 5.0}),
        ("opted-out", {"opted_out": True}),
    ]:
        first = start(f"s-{pid}", pid, run_id, now=more.get("now", 10.0))
        await storage.commit_turn(first)
        await storage.commit_turn(
            answer(f"a-{pid}", pid, run_id, first.response_id, **({"now": 20.0} | more))
        )
    waiting = await storage.in_progress(run_id, active_since=10.0)
    assert [r.pid for r in waiting] == ["going"]


async def test_a_reminder_is_counted_on_the_conversation(storage: Storage) -> None:
    run_id = await new_run(storage)
    first = start("s", "p1", run_id)
    await storage.commit_turn(first)
    for n, at in enumerate([30.0, 40.0]):
        await storage.commit_turn(
            TurnRecord(f"r{n}", "p1", at, [reply("remember?")], run_id=run_id, reminded=True)
        )
    (waiting,) = await storage.in_progress(run_id, active_since=0.0)
    assert (waiting.reminders, waiting.reminded_at) == (2, 40.0)


async def test_an_opt_out_lasts_until_the_person_writes_again(storage: Storage) -> None:
    pid = storage.pseudonym("memory", "ann")
    run_id = await new_run(storage)
    await storage.commit_turn(start("s", pid, run_id))
    await storage.commit_turn(TurnRecord("u", pid, 30.0, [reply("bye")], opted_out=True))
    assert (await storage.load(pid)).opted_out
    assert (await storage.run(run_id)).opted_out == 1
    await storage.commit_turn(TurnRecord("w", pid, 40.0, [reply("hi")], opted_out=False))
    assert not (await storage.load(pid)).opted_out


async def test_abandoned_conversations_expire_and_stay_for_their_person_to_be_told(
    storage: Storage,
) -> None:
    run_id = await new_run(storage)
    for pid, at in [("old", 10.0), ("recent", 100.0)]:
        await storage.commit_turn(start(f"s-{pid}", pid, run_id, now=at))
    assert await storage.expire_conversations("library", before=50.0) == 1
    assert await storage.expire_conversations("library", before=50.0) == 0
    statuses = sorted(r.status for r in (await storage.run_rows(run_id)).responses)
    assert statuses == ["expired", "started"]
    assert (await storage.load("old")).conversation.finished is False


async def test_the_accessible_profile_is_kept_with_the_participant_until_switched_off(
    storage: Storage, reopen: Opener
) -> None:
    run_id = await new_run(storage)
    await storage.commit_turn(start("s", "p1", run_id, accessible=True))
    assert (await storage.load("p1")).accessible
    await storage.commit_turn(TurnRecord("t", "p1", 30.0, [reply("next?")]))
    assert (await storage.load("p1")).accessible  # a turn that says nothing of it keeps it

    async def kept(again: Storage) -> bool:
        kept_on = (await again.load("p1")).accessible
        await again.commit_turn(TurnRecord("off", "p1", 40.0, [reply("ok")], accessible=False))
        return kept_on and not (await again.load("p1")).accessible

    assert await reopened(storage, reopen, kept)


async def test_a_conversation_with_the_accessible_profile_never_expires_and_is_reminded(
    storage: Storage,
) -> None:
    run_id = await new_run(storage)
    await storage.commit_turn(start("s-usual", "usual", run_id))
    await storage.commit_turn(start("s-simple", "simple", run_id, accessible=True))
    assert await storage.expire_conversations("library", before=50.0) == 1
    statuses = [r.status for r in (await storage.run_rows(run_id)).responses]
    assert statuses == ["expired", "started"]  # in the order they began: usual, simple
    waiting = await storage.in_progress(run_id, active_since=50.0)
    assert [r.pid for r in waiting] == ["simple"]


async def test_a_conversation_in_an_earlier_run_can_be_looked_up(storage: Storage) -> None:
    first_run, second_run = await new_run(storage), await new_run(storage)
    await storage.commit_turn(start("s1", "p1", first_run, state='{"at": "done"}'))
    await storage.commit_turn(start("s2", "p1", second_run))
    earlier = await storage.conversation_in("p1", first_run)
    assert (earlier.run_id, earlier.state) == (first_run, '{"at": "done"}')
    assert await storage.conversation_in("p1", 99) is None
    assert await storage.conversation_in("nobody", first_run) is None


async def test_a_digest_moves_the_watermark_and_queues_its_message(storage: Storage) -> None:
    run_id = await new_run(storage)
    outbox_id = await storage.post_digest(
        run_id, covered_until=100.0, now=101.0, platform="memory", channel="staff", body="{}"
    )
    assert await storage.last_digest(run_id) == 100.0
    assert (await storage.run_rows(run_id)).last_digest == 100.0
    assert [(r.id, r.conversation_id) for r in await storage.unsent()] == [(outbox_id, "staff")]


async def test_schedules_are_kept_until_removed(storage: Storage, reopen: Opener) -> None:
    run_id = await new_run(storage)
    other = await new_run(storage)
    made = await storage.add_schedule(run_id=run_id, cron="0 9 * * mon", timezone="UTC", now=1.0)
    await storage.add_schedule(run_id=other, cron="0 8 * * *", timezone="UTC", now=1.0)
    await storage.schedule_fired(made.id, at=50.0)
    assert [s.run_id for s in await storage.schedules()] == [run_id, other]
    (kept,) = await storage.schedules(run_id)
    assert (kept.cron, kept.timezone, kept.last_fired_at) == ("0 9 * * mon", "UTC", 50.0)
    assert await storage.remove_schedule(made.id)
    assert not await storage.remove_schedule(made.id)
    left = await reopened(storage, reopen, lambda again: again.schedules())
    assert [s.run_id for s in left] == [other]


async def test_erasing_someone_leaves_nothing_linked_to_them(storage: Storage) -> None:
    run_id = await new_run(storage)
    first = start("e1", "p1", run_id)
    await storage.commit_turn(first)
    await storage.commit_turn(answer("e2", "p1", run_id, first.response_id))
    await storage.commit_turn(start("e9", "p2", run_id))
    erased = await erase(
        storage, "p1", event_key="forget", now=30.0, confirmation='{"text": "erased"}'
    )
    assert (erased.responses, erased.answers) == (1, 1)
    assert (await storage.load("p1")).known_participant is False
    assert await storage.stored_responses("p1") == []
    unsent = await storage.unsent()
    assert [r.body for r in unsent if r.conversation_id == "dm-p1"] == ['{"text": "erased"}']
    assert (await storage.run(run_id)).responses == 1  # p2's
    again = await erase(storage, "p1", event_key="forget", now=31.0, confirmation="{}")
    assert again is None


async def test_someone_sees_their_own_answers_but_no_anonymous_ones(storage: Storage) -> None:
    run_id = await new_run(storage)
    named = start("e1", "p1", run_id)
    await storage.commit_turn(named)
    await storage.commit_turn(answer("e2", "p1", run_id, named.response_id, status="completed"))
    hidden = await new_run(storage)
    anonymous = start("e3", "p1", hidden, anonymous=True)
    await storage.commit_turn(anonymous)
    await storage.commit_turn(
        answer("e4", "p1", hidden, anonymous.response_id, anonymous=True, finished=True)
    )
    (mine,) = await storage.stored_responses("p1")
    assert (mine.survey_id, mine.status, mine.answers) == (
        "library",
        "completed",
        [("q1", "weekly")],
    )


async def test_event_ids_are_remembered_for_their_retention_and_then_forgotten(
    storage: Storage,
) -> None:
    run_id = await new_run(storage)
    await storage.commit_turn(start("old", "p1", run_id, now=1.0))
    await storage.commit_turn(start("recent", "p2", run_id, now=25 * DAY))
    assert await storage.forget_old_events(now=31 * DAY) == 1
    assert await storage.commit_turn(start("recent", "p2", run_id, now=31 * DAY)) is None


async def test_pseudonyms_are_stable_and_reveal_nobody(storage: Storage, reopen: Opener) -> None:
    ann = storage.pseudonym("slack", "U024BE7LH")
    assert ann == storage.pseudonym("slack", "U024BE7LH")
    assert ann != storage.pseudonym("matrix", "U024BE7LH")
    assert "U024BE7LH" not in ann

    async def again_ann(again: Storage) -> str:
        return again.pseudonym("slack", "U024BE7LH")

    assert await reopened(storage, reopen, again_ann) == ann


async def test_a_run_gets_the_staff_channel_its_digests_go_to(storage: Storage) -> None:
    run_id = await storage.keyword_run("library", now=1.0, **OPENS_ITSELF)
    assert (await storage.run(run_id)).staff_channel is None
    await storage.set_staff_channel(run_id, "slack:CSTAFF")
    assert (await storage.run(run_id)).staff_channel == "slack:CSTAFF"


async def test_an_event_handled_outside_a_turn_is_first_delivered_once(storage: Storage) -> None:
    assert await storage.first_delivery("slack:command:Ev9", now=1.0)
    assert not await storage.first_delivery("slack:command:Ev9", now=2.0)
    assert await storage.first_delivery("slack:command:Ev10", now=2.0)


async def test_retention_purges_closed_runs_and_keeps_only_their_counts(storage: Storage) -> None:
    old_run, recent_run = await new_run(storage), await new_run(storage)
    for run_id, pid in [(old_run, "p1"), (old_run, "p2"), (recent_run, "p3")]:
        first = start(f"s-{pid}", pid, run_id)
        await storage.commit_turn(first)
        await storage.commit_turn(
            answer(f"a-{pid}", pid, run_id, first.response_id, answer=("q1", ["a", "b"]))
        )
        await storage.commit_turn(
            answer(f"t-{pid}", pid, run_id, first.response_id, answer=("words", "my own"))
        )
    await storage.close_run(old_run, now=100.0)
    await storage.close_run(recent_run, now=500.0)
    purged = await storage.purge_answers("library", closed_before=200.0, counted=["q1"], now=600.0)
    assert [(p.run_id, p.answers, p.responses) for p in purged] == [(old_run, 4, 2)]
    assert await storage.kept_counts(old_run) == [("q1", "a", 2), ("q1", "b", 2)]
    assert (await storage.run_rows(old_run)).answers == []
    assert len((await storage.run_rows(recent_run)).answers) == 2
    assert (await storage.run(old_run)).purged_at == 600.0
    assert await storage.conversation_in("p1", old_run) is None
    again = await storage.purge_answers("library", closed_before=200.0, counted=["q1"], now=700.0)
    assert again == []


async def test_retention_forgets_addresses_of_people_not_seen_since(storage: Storage) -> None:
    run_id = await new_run(storage)
    for pid, at in [("gone", 10.0), ("seen", 90.0)]:
        await storage.commit_turn(start(f"s-{pid}", pid, run_id, now=at))
    assert await storage.forget_addresses(inactive_since=50.0) == 1
    assert (await storage.load("gone")).address is None
    assert (await storage.load("seen")).address == "dm-seen"


async def test_a_runs_figures_sum_up_its_completed_answers_from_one_snapshot(
    storage: Storage,
) -> None:
    run_id = await new_run(storage)
    people = [
        ("p1", 1, "Too short hours", "en"),
        ("p2", 1, "Too short hours", "fi"),
        ("p3", 4, None, "fi"),
        ("p4", 5, "Fine", "en"),
    ]
    for n, (pid, points, words, language) in enumerate(people):
        first = start(f"s{n}", pid, run_id, language=language)
        await storage.commit_turn(first)
        rid = first.response_id
        await storage.commit_turn(answer(f"a{n}", pid, run_id, rid, answer=("points", points)))
        given_by = "intermediary" if pid == "p4" else "participant"
        last = answer(
            f"b{n}",
            pid,
            run_id,
            rid,
            answer=("words", words),
            given_by=given_by,
            status="answering" if pid == "p3" else "completed",
            now=30.0 + n,
            language=language,
        )
        await storage.commit_turn(last)
    asked = {"lowest": [("points", 1)], "comments": ["words"]}
    figures = await storage.run_figures(run_id, until=32.5, **asked)
    rows = await storage.run_rows(run_id)
    expected = figures_from(rows.responses, rows.answers, since=None, until=32.5, **asked)
    assert sorted(figures.values, key=repr) == sorted(expected.values, key=repr)
    assert sorted(figures.lowest_comments, key=repr) == sorted(expected.lowest_comments, key=repr)
    assert (figures.statuses, figures.languages) == (expected.statuses, expected.languages)
    assert (figures.assisted, figures.new_completed) == (1, 2)  # p4 completed after 32.5
    too_short = next(v for v in figures.values if v.value == "Too short hours")
    assert (too_short.count, too_short.new) == (2, 2)
    assert [c.value for c in figures.lowest_comments] == ["Too short hours"] * 2  # p1, p2


async def test_an_export_hands_over_each_response_with_its_answers_in_the_order_asked(
    storage: Storage,
) -> None:
    run_id = await new_run(storage)
    started = []
    for n in range(3):
        first = start(f"s{n}", f"p{n}", run_id)
        await storage.commit_turn(first)
        await storage.commit_turn(answer(f"a{n}", f"p{n}", run_id, first.response_id))
        started.append(first.response_id)

    def listed(rows, total):
        assert total == 3
        return [(response.id, [a.question_id for a in answers]) for response, answers in rows]

    exported = await storage.export(run_id, listed, shuffle=lambda ids: ids.reverse())
    assert exported == [(rid, ["q1"]) for rid in reversed(started)]
    assert [rid for rid, _ in await storage.export(run_id, listed)] == started


async def test_a_runs_figures_stay_right_as_answers_change_go_and_are_decided_on(
    storage: Storage,
) -> None:
    run_id = await new_run(storage)
    asked = {"lowest": [("points", 1)], "comments": ["words"]}

    async def completes(pid: str, words: str | None, *, at: float) -> int:
        first = start(f"s-{pid}", pid, run_id)
        await storage.commit_turn(first)
        rid = first.response_id
        await storage.commit_turn(answer(f"a-{pid}", pid, run_id, rid, answer=("points", 1)))
        last = answer(
            f"b-{pid}", pid, run_id, rid, answer=("words", words), status="completed", now=at
        )
        await storage.commit_turn(last)
        return rid

    async def as_worked_out(*, since: float | None, until: float) -> None:
        figures = await storage.run_figures(run_id, until=until, **asked)
        rows = await storage.run_rows(run_id)
        expected = figures_from(rows.responses, rows.answers, since=since, until=until, **asked)
        assert sorted(figures.values, key=repr) == sorted(expected.values, key=repr)

    first = await completes("p1", "Rude words", at=10.0)
    for n, at in enumerate([11.0, 12.0, 13.0], start=2):
        await completes(f"p{n}", "Open longer", at=at)
    await as_worked_out(since=None, until=12.5)  # p4 completed after: not new yet
    await storage.post_digest(
        run_id, covered_until=12.5, now=12.5, platform="memory", channel="staff", body="{}"
    )
    await completes("p5", "Rude words", at=20.0)
    await as_worked_out(since=12.5, until=30.0)  # p4 and p5 are new
    await storage.review(response_id=first, question_id="words", decision="kept", now=31.0)
    await as_worked_out(since=12.5, until=30.0)  # p1's words apart, p5's the first left
    retracted = answer("r-p2", "p2", run_id, first + 1, answer=None, retract="words")
    await storage.commit_turn(retracted)
    await erase(storage, "p3", event_key="forget-p3", now=32.0, confirmation='{"text": "erased"}')
    await as_worked_out(since=12.5, until=40.0)


async def test_a_web_transcript_numbers_its_messages_and_keeps_a_resent_reply_once(
    storage: Storage,
) -> None:
    for outbox_id, text in [(7, "hello"), (8, "first question"), (7, "hello")]:
        entry = json.dumps({"text": text})
        await storage.append_web_message("page-1", outbox_id=outbox_id, entry=entry, now=10.0)
    await storage.append_web_message("page-2", outbox_id=None, entry="{}", now=10.0)
    stored, last = await storage.web_messages("page-1", after=0, most=100)
    assert [(seq, json.loads(entry)["text"]) for seq, entry in stored] == [
        (1, "hello"),
        (2, "first question"),
    ]
    assert last == 2
    assert await storage.web_messages("page-1", after=2, most=100) == ([], 2)
    assert (await storage.web_messages("page-1", after=0, most=1))[0][0][0] == 2  # the last
    assert await storage.forget_web_messages(10.0 + 24 * 3600 + 1) == 3
    assert await storage.web_messages("page-1", after=0, most=100) == ([], 0)


async def test_erasing_someone_erases_their_web_transcript(storage: Storage) -> None:
    run_id = await new_run(storage)
    await storage.commit_turn(start("e1", "p1", run_id))
    said = json.dumps({"text": "You answered: my address is Elm St 5"})
    await storage.append_web_message("dm-p1", outbox_id=None, entry=said, now=20.0)
    await erase(storage, "p1", event_key="forget", now=30.0, confirmation='{"text": "erased"}')
    assert await storage.web_messages("dm-p1", after=0, most=100) == ([], 0)


async def test_replies_can_be_read_for_the_platforms_a_worker_serves_only(
    storage: Storage,
) -> None:
    replies = [
        OutboxMessage("matrix", "!room", '{"text": "a"}'),
        OutboxMessage("slack", "D1", '{"text": "b"}'),
    ]
    await storage.commit_turn(TurnRecord(event_key="e1", pid="p1", now=1.0, outbox=replies))
    assert [r.platform for r in await storage.unsent(platforms=["slack"])] == ["slack"]
    assert await storage.unsent(platforms=[]) == []
    assert [r.platform for r in await storage.unsent()] == ["matrix", "slack"]


async def test_the_outbox_depth_counts_waiting_replies_without_taking_them(
    storage: Storage,
) -> None:
    replies = [OutboxMessage("memory", "dm-1", '{"text": "a"}')] * 2
    await storage.commit_turn(TurnRecord(event_key="e1", pid="p1", now=1.0, outbox=replies))
    depth = await storage.outbox_depth(queued_before=5.0)
    assert (depth.waiting, depth.waiting_long, depth.oldest) == (2, 2, 1.0)
    assert (await storage.outbox_depth(queued_before=0.5)).waiting_long == 0
    assert len(await storage.unsent()) == 2  # still there for whoever sends them


async def test_an_intermediarys_session_is_loaded_with_them_moved_on_and_closed(
    storage: Storage, reopen: Opener
) -> None:
    run_id = await storage.create_run(survey_id="s", audience="open", staff_channel=None, now=1.0)
    session = AssistSession("respondent-1", "s", run_id, "fi", "reached")
    opening = TurnRecord(event_key="assist:1", pid="respondent-1", now=5.0, outbox=[])
    opening.assist = ("helper", session)
    await storage.commit_turn(opening)
    assert (await storage.load("helper")).assist == session
    agreed = replace(session, stage="answering", reached_by="phone")
    first = start("a1", "respondent-1", run_id, address=None, given_by="intermediary")
    first.assisted, first.assist = ("helper", "phone"), ("helper", agreed)
    await storage.commit_turn(first)

    async def moved_on(again: Storage) -> None:
        assert (await again.load("helper")).assist == agreed
        rows = await again.run_rows(run_id)
        assert [(r.assisted_by, r.reached_by) for r in rows.responses] == [("helper", "phone")]
        closing = TurnRecord(event_key="done:1", pid="respondent-1", now=9.0, outbox=[])
        closing.assist = ("helper", None)
        await again.commit_turn(closing)
        assert (await again.load("helper")).assist is None

    await reopened(storage, reopen, moved_on)


async def test_a_late_delivery_report_never_moves_a_message_back(storage: Storage) -> None:
    for status, code in (("queued", None), ("undelivered", 30003), ("sent", None)):
        await storage.record_delivery(
            platform="sms", message_id="SM1", status=status, error_code=code, now=5.0
        )
    await storage.record_delivery(
        platform="sms", message_id="SM2", status="delivered", error_code=None, now=6.0
    )
    assert await storage.delivery_counts(platform="sms", since=0.0) == {
        "undelivered": 1,
        "delivered": 1,
    }
    assert await storage.forget_deliveries(6.0 + 31 * 24 * 3600) == 2


async def test_a_queued_wave_hands_out_its_people_until_each_is_unqueued(storage: Storage) -> None:
    run_id = await storage.create_run(survey_id="s", audience="x", staff_channel=None, now=1.0)
    people = [(f"p{n}", "memory", f"u{n}", f"dm-u{n}") for n in range(5)]
    assert await storage.queue_invitations(run_id, people[:3], now=2.0) == 3
    assert await storage.queue_invitations(run_id, people, now=3.0) == 2  # three were there
    first = await storage.queued_invitations(run_id, most=2)
    assert first == people[:2]
    await storage.unqueue_invitations(run_id, [p[0] for p in first])
    assert [p[0] for p in await storage.queued_invitations(run_id, most=10)] == ["p2", "p3", "p4"]
    assert (await storage.load("p3")).address == "dm-u3"
    await erase(storage, "p3", event_key="forget", now=4.0, confirmation='{"text": "ok"}')
    assert [p[0] for p in await storage.queued_invitations(run_id, most=10)] == ["p2", "p4"]
    assert await storage.waiting_waves() == [run_id]
    await storage.close_run(run_id, now=5.0)
    assert await storage.waiting_waves() == []
