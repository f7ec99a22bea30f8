"""What civicbot deletes when its time is up, and that it leaves the database files."""

from __future__ import annotations

import sqlite3
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from conftest import STAFF_ROOM, Clock, command, coordinated

from adapters.memory import MemoryAdapter
from bot.app import Runtime
from bot.config import ConfigError, settings_of

DAY = 24 * 3600.0
SECRET = "my hidden garden behind the old mill"
LIBRARY_TO_THE_END = ("library", "yes", "every week", "1, 2", "4", SECRET, "skip")


@pytest.fixture
async def runtime(tmp_path: Path, survey_folder: Path, clock: Clock) -> AsyncIterator[Runtime]:
    async with coordinated(
        tmp_path, survey_folder, clock, staff_channel=f"memory:{STAFF_ROOM}"
    ) as started:
        await started.scheduler.settled()  # the upkeep at start is over
        yield started


def database_bytes(tmp_path: Path) -> bytes:
    return b"".join(
        path.read_bytes() for path in tmp_path.glob("civicbot.db*") if path.suffix != ".key"
    )


def rows(tmp_path: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(tmp_path / "civicbot.db") as connection:
        return connection.execute(sql).fetchall()


async def answered_and_closed(chat: MemoryAdapter, runtime: Runtime) -> None:
    for text in LIBRARY_TO_THE_END:
        await chat.push("ann", text)
    await command(chat, "survey close 1")
    await runtime.store.flushed()


async def test_answers_of_a_closed_run_leave_the_database_file_after_a_year(
    runtime: Runtime, chat: MemoryAdapter, clock: Clock, tmp_path: Path
) -> None:
    await answered_and_closed(chat, runtime)
    assert SECRET.encode() in database_bytes(tmp_path)
    clock.advance(366 * DAY)
    await runtime.scheduler.settled()
    assert SECRET.encode() not in database_bytes(tmp_path)
    assert rows(tmp_path, "SELECT count(*) FROM answers") == [(0,)]
    assert rows(tmp_path, "SELECT count(*) FROM responses") == [(0,)]
    status = await command(chat, "survey status 1")
    assert "Its answers were deleted on" in status
    assert rows(tmp_path, "SELECT user_id, outcome FROM command_audit WHERE platform = 'civicbot'")[
        0
    ] == (
        "retention",
        "deleted 5 answers of 1 responses of run 1 (library-services), 365 days after it closed",
    )


async def test_answers_are_kept_until_their_time(
    runtime: Runtime, chat: MemoryAdapter, clock: Clock, tmp_path: Path
) -> None:
    await answered_and_closed(chat, runtime)
    clock.advance(300 * DAY)
    await runtime.scheduler.settled()
    assert rows(tmp_path, "SELECT count(*) FROM answers") == [(5,)]


async def test_an_open_run_keeps_its_answers(
    runtime: Runtime, chat: MemoryAdapter, clock: Clock, tmp_path: Path
) -> None:
    for text in LIBRARY_TO_THE_END:
        await chat.push("ann", text)
    clock.advance(400 * DAY)
    await runtime.scheduler.settled()
    assert rows(tmp_path, "SELECT count(*) FROM answers") == [(5,)]


async def test_a_survey_that_keeps_counts_shows_them_once_its_answers_are_gone(
    tmp_path: Path, survey_folder: Path, clock: Clock
) -> None:
    library = survey_folder / "library-services.yaml"
    library.write_text(
        "keep_counts: true\nkeep_answers: 30 days\nmin_group_size: 2\n"
        + library.read_text(encoding="utf-8"),
        encoding="utf-8",
    )
    async with coordinated(tmp_path, survey_folder, clock) as runtime:
        chat = runtime.adapters[0]
        for person in ("ann", "ben"):
            for text in ("library", "yes", "every week", "1, 2", "4", SECRET, "skip"):
                await chat.push(person, text)
        await command(chat, "survey close 1")
        clock.advance(31 * DAY)
        await runtime.scheduler.settled()
        status = await command(chat, "survey status 1")
    assert "Counts kept:" in status
    assert "  visits: Every week: 2" in status
    assert "  services: E-books and audiobooks: 2, Borrowing books: 2" in status
    assert SECRET not in status
    assert SECRET.encode() not in database_bytes(tmp_path)


async def test_addresses_of_people_not_seen_for_ninety_days_are_deleted(
    runtime: Runtime, chat: MemoryAdapter, clock: Clock, tmp_path: Path
) -> None:
    await chat.push("ann", "hello")
    clock.advance(91 * DAY)
    await runtime.scheduler.settled()
    assert rows(tmp_path, "SELECT count(*) FROM addresses") == [(0,)]
    await chat.push("ann", "library")
    assert chat.to("dm-ann")[-1].message.text.startswith("City library feedback")
    assert rows(tmp_path, "SELECT count(*) FROM addresses") == [(1,)]


async def test_someone_in_a_survey_keeps_their_address(
    runtime: Runtime, chat: MemoryAdapter, clock: Clock, tmp_path: Path
) -> None:
    await chat.push("ann", "library")
    clock.advance(60 * DAY)
    await chat.push("ann", "yes")
    clock.advance(60 * DAY)
    await runtime.scheduler.settled()
    assert rows(tmp_path, "SELECT count(*) FROM addresses") == [(1,)]


async def test_forget_me_leaves_the_database_file_at_once(
    runtime: Runtime, chat: MemoryAdapter, tmp_path: Path
) -> None:
    for text in LIBRARY_TO_THE_END:
        await chat.push("ann", text)
    await runtime.store.flushed()
    assert SECRET.encode() in database_bytes(tmp_path)
    await chat.push("ann", "forget me")
    await runtime.store.flushed()
    assert SECRET.encode() not in database_bytes(tmp_path)


async def test_the_database_files_are_readable_by_their_owner_only(
    runtime: Runtime, chat: MemoryAdapter, tmp_path: Path
) -> None:
    await chat.push("ann", "library")
    await runtime.store.flushed()
    files = [tmp_path / f"civicbot.db{suffix}" for suffix in ("", "-wal", "-shm")]
    assert [stat.S_IMODE(path.stat().st_mode) for path in files] == [0o600] * 3


async def test_an_older_database_that_others_could_read_is_made_private(
    tmp_path: Path, survey_folder: Path, clock: Clock
) -> None:
    sqlite3.connect(tmp_path / "civicbot.db").execute("CREATE TABLE early (x)").connection.close()
    (tmp_path / "civicbot.db").chmod(0o644)
    async with coordinated(tmp_path, survey_folder, clock):
        pass
    assert stat.S_IMODE((tmp_path / "civicbot.db").stat().st_mode) == 0o600


@pytest.mark.parametrize("length", ["0 days", "-5", "forever"])
def test_a_retention_setting_that_cannot_work_is_named(length: str) -> None:
    with pytest.raises(ConfigError, match=r"storage\.keep_addresses"):
        settings_of({"storage": {"keep_addresses": length}}, source="civicbot.toml")
