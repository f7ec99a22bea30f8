"""Storage: migrations, group commit, and turns stored whole and once."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import stat
from dataclasses import replace
from functools import partial
from pathlib import Path

import pytest
from click.testing import CliRunner
from writer_faults import stall

from bot.cli import main
from storage.backup import back_up
from storage.contract import BackupError
from storage.database import connect
from storage.migrations import MIGRATIONS, migrate
from storage.pseudonyms import key_file, load_key
from storage.records import ConversationRow, Loaded, OutboxMessage, TurnRecord
from storage.retention import DELETE_CHUNK
from storage.runs import run_for_everyone
from storage.store import Store
from storage.tallies import tallied
from storage.turns import MAX_ROWS, record_turns
from storage.write_process import Inbox, encode_writes
from storage.writer import GroupCommitWriter, WriterDied

KEY = {"CIVICBOT_PSEUDONYM_KEY": "k"}


def test_migrations_are_recorded_with_their_description(tmp_path: Path) -> None:
    connection = connect(tmp_path / "db.sqlite")
    assert migrate(connection) == MIGRATIONS[-1].version
    assert migrate(connection) == MIGRATIONS[-1].version  # a second open changes nothing
    recorded = connection.execute("SELECT version, description FROM schema_migrations").fetchall()
    assert recorded == [(m.version, m.description) for m in MIGRATIONS]


def test_database_settings_make_commits_durable(tmp_path: Path) -> None:
    connection = connect(tmp_path / "db.sqlite")
    assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert connection.execute("PRAGMA synchronous").fetchone() == (2,)  # FULL
    assert connection.execute("PRAGMA busy_timeout").fetchone()[0] > 0


def insert_note(connection: sqlite3.Connection, *, n: int) -> int:
    """A write the writer process can receive: a module-level function."""
    return connection.execute("INSERT INTO notes VALUES (?)", (n,)).lastrowid


def notes_table(path: Path, column: str = "n INTEGER") -> Path:
    connect(path).execute(f"CREATE TABLE notes ({column})")
    return path


async def test_concurrent_writes_share_one_commit(tmp_path: Path) -> None:
    writer = GroupCommitWriter(notes_table(tmp_path / "db.sqlite"))
    writer.start()
    results = await asyncio.gather(*(writer.write(partial(insert_note, n=n)) for n in range(100)))
    await writer.close()
    assert sorted(results) == list(range(1, 101))
    assert writer.commits <= 2
    assert connect(tmp_path / "db.sqlite").execute("SELECT count(*) FROM notes").fetchone() == (
        100,
    )


async def test_one_failing_write_fails_alone(tmp_path: Path) -> None:
    writer = GroupCommitWriter(notes_table(tmp_path / "db.sqlite", "n INTEGER UNIQUE"))
    writer.start()
    outcomes = await asyncio.gather(
        writer.write(partial(insert_note, n=1)),
        writer.write(partial(insert_note, n=1)),
        writer.write(partial(insert_note, n=2)),
        return_exceptions=True,
    )
    await writer.close()
    assert isinstance(outcomes[1], sqlite3.IntegrityError)
    assert not isinstance(outcomes[0], BaseException)
    assert not isinstance(outcomes[2], BaseException)
    stored = connect(tmp_path / "db.sqlite").execute("SELECT n FROM notes ORDER BY n").fetchall()
    assert stored == [(1,), (2,)]


async def test_a_write_that_cannot_reach_the_writer_process_fails_alone(tmp_path: Path) -> None:
    writer = GroupCommitWriter(notes_table(tmp_path / "db.sqlite"))
    writer.start()
    outcomes = await asyncio.gather(
        writer.write(partial(insert_note, n=1)),
        writer.write(lambda connection: None),
        return_exceptions=True,
    )
    await writer.close()
    assert outcomes[0] == 1
    assert isinstance(outcomes[1], TypeError)
    assert "cannot receive" in str(outcomes[1])


def test_writes_that_arrive_during_a_commit_go_together_into_the_next() -> None:
    read_end, write_end = os.pipe()
    inbox = Inbox(read_end)
    for n in (1, 2, 3):  # three messages, as three loop iterations of the bot send them
        os.write(write_end, encode_writes([(None, partial(insert_note, n=n))]))
    os.write(write_end, encode_writes([(None, partial(insert_note, n=4))])[:5])  # arriving
    batch = inbox.batch()
    assert [write.keywords["n"] for _, write in batch] == [1, 2, 3]
    os.write(write_end, encode_writes([(None, partial(insert_note, n=4))])[5:])
    os.close(write_end)
    assert [write.keywords["n"] for _, write in inbox.batch()] == [4]
    assert inbox.batch() is None  # the bot closed the pipe
    os.close(read_end)


def refuse_to_load() -> None:
    raise RuntimeError("this cannot be rebuilt here")


class LoadsNowhere:
    """Pickles in the bot's process; unpickling it raises (as a function from the bot's
    __main__ would in the writer process)."""

    def __reduce__(self) -> tuple:
        return (refuse_to_load, ())


async def test_a_write_the_writer_process_cannot_load_fails_alone(tmp_path: Path) -> None:
    writer = GroupCommitWriter(notes_table(tmp_path / "db.sqlite"))
    writer.start()
    assert await writer.write(partial(insert_note, n=1)) == 1
    pid = writer.pid
    with pytest.raises(TypeError, match=r"cannot load.*this cannot be rebuilt here"):
        await writer.write(partial(insert_note, n=LoadsNowhere()))
    assert await writer.write(partial(insert_note, n=2)) == 2
    assert writer.pid == pid  # the same writer process goes on
    await writer.close()


def answer_that_loads_nowhere(connection: sqlite3.Connection) -> LoadsNowhere:
    return LoadsNowhere()  # pickles in the writer process; the bot cannot unpickle it


async def test_a_result_the_bot_cannot_read_fails_its_write_and_the_next_goes_on(
    tmp_path: Path,
) -> None:
    writer = GroupCommitWriter(notes_table(tmp_path / "db.sqlite"))
    writer.start()
    with pytest.raises(WriterDied, match="unreadable"):
        await writer.write(answer_that_loads_nowhere)
    assert await writer.write(partial(insert_note, n=1)) == 1  # a new writer process
    await writer.close()


async def test_writes_go_on_after_the_writer_process_dies(tmp_path: Path) -> None:
    writer = GroupCommitWriter(notes_table(tmp_path / "db.sqlite"))
    writer.start()
    await writer.write(partial(insert_note, n=1))
    entered = tmp_path / "entered"
    os.mkfifo(entered)
    held = asyncio.ensure_future(writer.write(partial(stall, entered=str(entered))))
    await asyncio.to_thread(entered.read_text)  # the writer process is in the stalled write
    os.kill(writer.pid, signal.SIGKILL)
    with pytest.raises(WriterDied):
        await held
    assert await writer.write(partial(insert_note, n=2)) == 2  # a new process took over
    await writer.close()
    stored = connect(tmp_path / "db.sqlite").execute("SELECT n FROM notes").fetchall()
    assert stored == [(1,), (2,)]


def turn(event: str, pid: str = "p1", *, run_id: int = 1, **changes: object) -> TurnRecord:
    fields = {
        "event_key": event,
        "pid": pid,
        "now": 1.0,
        "outbox": [OutboxMessage("memory", "dm", '{"text": "hi"}')],
        "run_id": run_id,
    }
    return TurnRecord(**(fields | changes))


def test_a_batch_larger_than_one_statement_takes_is_stored_whole_and_once(
    tmp_path: Path,
) -> None:
    connection = connect(tmp_path / "db.sqlite")
    migrate(connection)
    run_id = run_for_everyone(
        connection, survey_id="survey", now=1.0, opens_itself=True, staff_channel=None
    )
    starts = [
        turn(
            f"e{n}",
            f"p{n}",
            run_id=run_id,
            new_participant=True,
            address=("memory", f"u{n}", f"dm{n}"),
            start_response=True,
            state=f'{{"n": {n}}}',
        )
        for n in range(2 * MAX_ROWS + 45)  # statements of 256, 256, 32, 8, 4 and 1 rows
    ]
    stored = record_turns(connection, starts)
    again = record_turns(connection, [replace(t) for t in starts])
    assert [ids for ids, _ in stored] == [[n] for n in range(1, len(starts) + 1)]
    assert [response for _, response in stored] == list(range(1, len(starts) + 1))
    assert again == [None] * len(starts)
    for table in ("processed_events", "participants", "responses", "conversations", "outbox"):
        assert connection.execute(f"SELECT count(*) FROM {table}").fetchone() == (len(starts),)
    states = connection.execute("SELECT pid, state FROM conversations").fetchall()
    assert all(json.loads(state)["n"] == int(pid[1:]) for pid, state in states)


def first_turn(run_id: int) -> TurnRecord:
    """p1's first turn: a new participant starts a survey and is asked for consent."""
    return turn(
        "e1",
        run_id=run_id,
        new_participant=True,
        address=("memory", "u", "dm-1"),
        start_response=True,
        state='{"stage": "consent"}',
    )


async def test_recent_conversation_cache_follows_commits(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "db.sqlite", environ=KEY)
    run_id = await store.keyword_run("survey", now=1.0, opens_itself=True, staff_channel=None)
    assert (await store.load("p1")).known_participant is False
    await store.commit_turn(first_turn(run_id))
    cached = await store.load("p1")
    answered = turn(
        "e2",
        run_id=run_id,
        response_id=cached.conversation.response_id,
        state='{"stage": "question"}',
    )
    await store.commit_turn(answered)
    from_cache = await store.load("p1")
    await store.close()
    fresh = Store.open(
        tmp_path / "db.sqlite", environ=KEY
    )  # an empty cache: read from the database
    try:
        assert (await fresh.load("p1")) == from_cache
        assert from_cache == Loaded(
            True, "dm-1", ConversationRow(run_id, 1, '{"stage": "question"}', False, True, 1.0)
        )
    finally:
        await fresh.close()


async def test_a_redelivered_event_drops_the_cached_conversation(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "db.sqlite", environ=KEY)
    run_id = await store.keyword_run("survey", now=1.0, opens_itself=True, staff_channel=None)
    await store.commit_turn(first_turn(run_id))
    assert (await store.load("p1")).conversation.state == '{"stage": "consent"}'  # cached
    # the writer process of a bot that was killed commits the next turn after its death
    answered = turn("e2", run_id=run_id, response_id=1, state='{"stage": "question"}')
    elsewhere = connect(tmp_path / "db.sqlite")
    elsewhere.execute("BEGIN IMMEDIATE")
    record_turns(elsewhere, [answered])
    elsewhere.execute("COMMIT")
    assert await store.commit_turn(replace(answered)) is None  # the event comes again
    try:
        assert (await store.load("p1")).conversation.state == '{"stage": "question"}'
    finally:
        await store.close()


async def test_a_new_participant_without_an_address_is_not_cached(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "db.sqlite", environ=KEY)
    run_id = await store.keyword_run("survey", now=1.0, opens_itself=True, staff_channel=None)
    await store.commit_turn(turn("e1", run_id=run_id, new_participant=True))
    try:
        assert await store.load("p1") == Loaded(True, None, None)
    finally:
        await store.close()


async def test_event_ids_are_forgotten_after_thirty_days_and_recent_ones_kept(
    tmp_path: Path,
) -> None:
    store = Store.open(tmp_path / "db.sqlite", environ=KEY)
    day = 24 * 3600.0
    old = [turn(f"old{n}", now=1.0) for n in range(DELETE_CHUNK + 10)]  # more than one chunk
    await asyncio.gather(*(store.commit_turn(t) for t in old))
    await store.commit_turn(turn("recent", now=25 * day))
    assert await store.forget_old_events(now=31 * day) == DELETE_CHUNK + 10
    assert await store.commit_turn(turn("recent", now=31 * day)) is None  # still recognised
    await store.close()
    kept = connect(tmp_path / "db.sqlite").execute("SELECT event_id FROM processed_events")
    assert kept.fetchall() == [("recent",)]


def conversation_turn(event: str, pid: str, run_id: int) -> TurnRecord:
    return turn(
        event,
        pid,
        run_id=run_id,
        new_participant=True,
        start_response=True,
        state='{"stage": "question"}',
    )


async def test_a_backup_taken_while_answers_are_written_holds_whole_turns_and_the_key(
    tmp_path: Path,
) -> None:
    database = tmp_path / "civicbot.db"
    store = Store.open(database, environ={})
    load_key(database, environ={})  # the generated key, as `civicbot run` makes it
    run_id = await store.keyword_run("survey", now=1.0, opens_itself=True, staff_channel=None)
    await asyncio.gather(
        *(store.commit_turn(conversation_turn(f"e{n}", f"p{n}", run_id)) for n in range(100))
    )
    meanwhile = asyncio.gather(
        *(store.commit_turn(conversation_turn(f"f{n}", f"q{n}", run_id)) for n in range(100))
    )
    made = await asyncio.to_thread(back_up, database, tmp_path / "copy.db")
    await meanwhile
    await store.close()
    copy = sqlite3.connect(made.database)
    (responses,) = copy.execute("SELECT count(*) FROM responses").fetchone()
    assert 100 <= responses <= 200  # what had committed when the copy was taken
    assert copy.execute("SELECT count(*) FROM conversations").fetchone() == (responses,)
    assert copy.execute("SELECT count(*) FROM outbox").fetchone() == (responses,)
    assert made.key.read_bytes() == key_file(database).read_bytes()
    assert stat.S_IMODE(made.database.stat().st_mode) == 0o600
    assert stat.S_IMODE(made.key.stat().st_mode) == 0o600


def test_a_backup_never_overwrites_a_file(tmp_path: Path) -> None:
    database = tmp_path / "civicbot.db"
    migrate(connect(database))
    taken = tmp_path / "copy.db"
    taken.write_text("last week's backup")
    with pytest.raises(BackupError, match="exists already"):
        back_up(database, taken)
    assert taken.read_text() == "last week's backup"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("copy")) == ["copy.db"]


def test_civicbot_backup_copies_the_configured_database(tmp_path: Path) -> None:
    database = tmp_path / "data" / "answers.db"
    database.parent.mkdir()
    migrate(connect(database))
    load_key(database, environ={})
    config = tmp_path / "civicbot.toml"
    config.write_text('[storage]\ndatabase = "data/answers.db"\n')
    runner = CliRunner()
    result = runner.invoke(main, ["backup", str(tmp_path / "copy.db"), "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert "backed up to" in result.output
    assert "keep the two together" in result.output
    missing = runner.invoke(main, ["backup", str(tmp_path / "again.db")])  # no civicbot.db here
    assert missing.exit_code == 1
    assert "there is no database here to back up" in missing.output


def test_a_database_from_before_tallies_gets_them_for_the_answers_it_holds(
    tmp_path: Path,
) -> None:
    connection = connect(tmp_path / "db.sqlite")
    older = [m for m in MIGRATIONS if m.version < 21]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("storage.migrations.MIGRATIONS", older)
        migrate(connection)
    connection.executescript(
        "INSERT INTO runs (id, survey_id, audience, status, created_at)"
        "  VALUES (1, 'library', 'open', 'open', 0);"
        "INSERT INTO responses (id, run_id, status) VALUES"
        "  (1, 1, 'completed'), (2, 1, 'completed'), (3, 1, 'answering');"
        "INSERT INTO answers (response_id, question_id, value, given_by) VALUES"
        "  (1, 'q', '\"a\"', 'participant'), (2, 'q', '\"a\"', 'participant'),"
        "  (2, 'skip', NULL, 'participant'), (3, 'q', '\"b\"', 'participant');"
    )
    assert migrate(connection) == MIGRATIONS[-1].version
    assert sorted(tallied(connection, 1)) == [("q", '"a"', 2, 1), ("skip", None, 1, 2)]
