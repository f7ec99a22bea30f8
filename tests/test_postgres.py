"""PostgreSQL as an operator meets it: settings that are wrong, workers that start
together, a database that a newer civicbot migrated, the server going away."""

from __future__ import annotations

import asyncio
import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import aiohttp
import psycopg
import pytest
from click.testing import CliRunner
from postgres_harness import PASSWORD_VARIABLE, Database, PostgresServer

from adapters.memory import MemoryAdapter
from bot.app import running
from bot.cli import main
from bot.config import ConfigError, load_settings
from bot.run import serve
from storage.contract import StorageUnusable, open_storage
from storage.copy import copy_to_postgres
from storage.postgres_schema import MIGRATIONS, migrate
from storage.writer import WriterDied


async def test_a_wrong_password_is_one_clear_error_naming_the_setting(
    postgres: PostgresServer,
) -> None:
    url = postgres.new_database()
    started = time.monotonic()
    with pytest.raises(StorageUnusable) as refused:
        open_storage(url, environ={**postgres.environ, PASSWORD_VARIABLE: "wrong"})
    assert "storage.url" in str(refused.value)
    assert "password authentication failed" in str(refused.value)
    assert "wrong" not in str(refused.value).replace("wrong password", "")
    assert time.monotonic() - started < 5  # one try, not a storm of them


async def test_a_server_that_is_not_there_is_named_as_such(postgres: PostgresServer) -> None:
    nobody = postgres.new_database().replace(f":{postgres.port}/", ":1/")
    with pytest.raises(
        StorageUnusable, match=r"cannot use the database of storage\.url: .*refused"
    ):
        open_storage(nobody, environ=postgres.environ)


async def test_a_password_written_in_the_url_is_refused(postgres: PostgresServer) -> None:
    url = postgres.new_database().replace("civicbot@", f"civicbot:{postgres.password}@")
    with pytest.raises(StorageUnusable, match=f"leave it out and give it in {PASSWORD_VARIABLE}"):
        open_storage(url, environ=postgres.environ)


async def test_without_a_shared_pseudonym_key_workers_would_disagree_so_it_is_refused(
    postgres: PostgresServer,
) -> None:
    url = postgres.new_database()
    with pytest.raises(StorageUnusable, match="CIVICBOT_PSEUDONYM_KEY"):
        open_storage(url, environ={PASSWORD_VARIABLE: postgres.password})


async def test_workers_starting_together_migrate_once(postgres: PostgresServer) -> None:
    url = postgres.new_database()

    def start() -> int:
        with psycopg.connect(url, password=postgres.password, autocommit=True) as connection:
            return migrate(connection)

    with ThreadPoolExecutor(max_workers=4) as workers:
        versions = list(workers.map(lambda _: start(), range(4)))
    assert set(versions) == {MIGRATIONS[-1].version}
    with psycopg.connect(url, password=postgres.password) as connection:
        ledger = connection.execute("SELECT version FROM schema_migrations ORDER BY 1").fetchall()
    assert ledger == [(migration.version,) for migration in MIGRATIONS]  # each step once


async def test_a_database_a_newer_civicbot_migrated_is_refused_untouched(
    postgres: PostgresServer,
) -> None:
    url = postgres.new_database()
    await open_storage(url, environ=postgres.environ).close()
    with psycopg.connect(url, password=postgres.password, autocommit=True) as connection:
        connection.execute("INSERT INTO schema_migrations VALUES (99, 'from the future', 0)")
    with pytest.raises(StorageUnusable, match="schema version 99, newer than this civicbot"):
        open_storage(url, environ=postgres.environ)


async def test_after_the_server_dropped_every_connection_reads_go_on_and_writes_fail_cleanly(
    postgres: PostgresServer,
) -> None:
    url = postgres.new_database()
    store = open_storage(url, environ=postgres.environ)
    try:
        run_id = await store.create_run(survey_id="s", audience="open", staff_channel=None, now=1)
        with psycopg.connect(postgres.url(), password=postgres.password, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = %s AND pid != pg_backend_pid()",
                (url.rsplit("/", 1)[1],),
            )
        reads = await asyncio.gather(*(store.run(run_id) for _ in range(8)))
        assert [run.id for run in reads] == [run_id] * 8  # each tried again on a new one
        try:  # the writer's connection is gone too: this write may fail, and says so
            closed = await store.close_run(run_id, now=2)
        except WriterDied:  # its process ended with the connection; the next one reconnects
            closed = await store.close_run(run_id, now=2)  # as the platform's redelivery
        assert closed is True
        assert (await store.run(run_id)).status == "closed"
    finally:
        await store.close()


async def test_civicbot_run_with_a_storage_url_keeps_the_web_chats_answers_in_postgresql(
    postgres: PostgresServer, tmp_path: Path, survey_folder: Path
) -> None:
    url = postgres.new_database()
    settings_file = tmp_path / "civicbot.toml"
    settings_file.write_text(
        f'[storage]\nurl = "{url}"\ndatabase = "{tmp_path / "state.db"}"\n'
        f'[surveys]\nfolder = "{survey_folder}"\n[web]\nport = 0\n'
    )
    announced: list[str] = []
    ready, stop = asyncio.Event(), asyncio.Event()

    def announce(line: str) -> None:
        announced.append(line)
        ready.set()

    serving = asyncio.create_task(
        serve(load_settings(settings_file), announce=announce, environ=postgres.environ, stop=stop)
    )
    try:
        await asyncio.wait_for(ready.wait(), 30)
        address = re.search(r"open (http://\S+/) to answer", announced[0])[1]
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as web:
            await web.get(address)
            sent = await web.post(
                f"{address}api/messages", json={"text": "library", "id": "event-0001"}
            )
            assert sent.status == 202
    finally:
        stop.set()
        await asyncio.wait_for(serving, 30)
    assert f"answers in {url}" in announced[0]
    stored = Database(url, postgres.environ, postgres.password)
    assert stored.rows("SELECT count(*) FROM participants") == [(1,)]
    assert stored.rows("SELECT count(*) FROM outbox") == [(0,)]  # the greeting went out
    assert not (tmp_path / "state.db").exists()  # no SQLite file beside


def test_a_storage_url_that_is_not_postgresql_is_named(tmp_path: Path) -> None:
    settings_file = tmp_path / "civicbot.toml"
    settings_file.write_text('[storage]\nurl = "mysql://civicbot@db/civicbot"\n')
    with pytest.raises(ConfigError, match=r"storage\.url: .*not a PostgreSQL URL"):
        load_settings(settings_file)


async def test_a_sqlite_database_copied_to_postgresql_answers_the_same(
    postgres: PostgresServer, tmp_path: Path, survey_folder: Path
) -> None:
    sqlite_file = tmp_path / "civicbot.db"
    environ = {"CIVICBOT_PSEUDONYM_KEY": "copied"}
    async with running(
        database=sqlite_file, survey_folder=survey_folder, adapters=[MemoryAdapter], environ=environ
    ) as before:
        for person in ("ann", "ben"):
            for text in ["library", "yes", "1", "1, 3", "4", "Sunday hours", "2"]:
                await before.adapters[0].push(person, text)
        await before.adapters[0].push("cai", "library")  # half-way: consent asked
    url = postgres.new_database()
    settings_file = tmp_path / "civicbot.toml"
    settings_file.write_text(f'[storage]\ndatabase = "{sqlite_file}"\n')
    copied = CliRunner().invoke(
        main,
        ["storage", "copy", "--to", url, "--config", str(settings_file)],
        env={PASSWORD_VARIABLE: postgres.password, **environ},
    )
    assert copied.exit_code == 0, copied.output
    assert "next: storage.url" in copied.output
    assert "civicbot.db.key" not in copied.output  # the key came from the environment
    moved = Database(url, {**postgres.environ, **environ}, postgres.password)
    original = Database(sqlite_file, environ)
    for table in ("responses", "answers", "conversations", "participants", "addresses"):
        query = f"SELECT * FROM {table} ORDER BY 1, 2"
        assert moved.rows(query) == original.rows(query), table
    async with running(
        database=url, survey_folder=survey_folder, adapters=[MemoryAdapter], environ=moved.environ
    ) as after:
        await after.adapters[0].push("cai", "yes")  # goes on where it stood
        assert "How often do you visit" in after.adapters[0].sent[-1].message.text
        await after.adapters[0].push("dee", "library")  # and new people get new ids
    outbox_ids = moved.rows("SELECT max(id) FROM outbox")
    assert moved.rows("SELECT count(*) FROM responses") == [(4,)]
    assert outbox_ids == [(None,)]  # everything sent


async def test_copying_into_a_database_that_holds_data_changes_nothing(
    postgres: PostgresServer, tmp_path: Path, survey_folder: Path
) -> None:
    sqlite_file = tmp_path / "civicbot.db"
    async with running(
        database=sqlite_file,
        survey_folder=survey_folder,
        adapters=[MemoryAdapter],
        environ={"CIVICBOT_PSEUDONYM_KEY": "k"},
    ) as before:
        await before.adapters[0].push("ann", "library")
    url = postgres.new_database()
    await open_storage(url, environ=postgres.environ).close()
    taken = Database(url, postgres.environ, postgres.password)
    taken.rows(
        "INSERT INTO runs (survey_id, audience, status, created_at)"
        " VALUES ('x', 'open', 'open', 0) RETURNING id"
    )
    with pytest.raises(StorageUnusable, match="already holds runs: copy into an empty one"):
        copy_to_postgres(sqlite_file, url, postgres.environ)
    assert taken.rows("SELECT survey_id FROM runs") == [("x",)]
    assert taken.rows("SELECT count(*) FROM participants") == [(0,)]


def test_civicbot_migrate_on_a_storage_url_says_what_is_due_then_applies_it(
    postgres: PostgresServer, tmp_path: Path
) -> None:
    url = postgres.new_database()
    settings_file = tmp_path / "civicbot.toml"
    settings_file.write_text(f'[storage]\nurl = "{url}"\n')
    command = ["migrate", "--config", str(settings_file)]

    def civicbot(*extra: str):
        return CliRunner().invoke(main, [*command, *extra], env=postgres.environ)

    checked = civicbot("--check")
    assert checked.exit_code == 1
    assert f"{url} is at version 0." in checked.output
    assert f"to apply: {MIGRATIONS[-1].version}: {MIGRATIONS[-1].description}" in checked.output
    assert civicbot().exit_code == 0
    again = civicbot("--check")
    assert again.exit_code == 0
    assert f"is at version {MIGRATIONS[-1].version}.\nNothing to apply." in again.output
