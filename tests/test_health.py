"""/healthz and /readyz: alive, and ready only while the database takes writes, every
platform is connected and the outbox is not backing up."""

from __future__ import annotations

import os
import signal
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from conftest import Clock

from adapters.memory import MemoryAdapter
from bot.app import Runtime, running
from bot.events import NotStored
from bot.metrics import Metrics


@pytest.fixture
async def runtime(tmp_path: Path, survey_folder: Path, clock: Clock) -> AsyncIterator[Runtime]:
    async with running(
        database=tmp_path / "civicbot.db",
        survey_folder=survey_folder,
        adapters=[MemoryAdapter],
        clock=clock,
        environ={"CIVICBOT_PSEUDONYM_KEY": "k"},
        health=("127.0.0.1", 0),
    ) as started:
        yield started


async def get(runtime: Runtime, path: str) -> tuple[int, dict]:
    url = f"http://127.0.0.1:{runtime.health.port}{path}"
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.json()


async def test_a_running_bot_is_alive_and_ready(runtime: Runtime) -> None:
    assert await get(runtime, "/healthz") == (200, {"status": "alive"})
    assert await get(runtime, "/readyz") == (
        200,
        {"status": "ready", "checks": {"database": "ok", "memory": "ok", "outbox": "ok"}},
    )


async def test_a_database_that_takes_no_write_makes_the_bot_unready(
    runtime: Runtime, tmp_path: Path
) -> None:
    holder = sqlite3.connect(tmp_path / "civicbot.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        status, body = await get(runtime, "/readyz")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert status == 503
    assert body["checks"]["database"] == "a write took longer than 5 s"
    assert (await get(runtime, "/healthz"))[0] == 200


async def test_replies_that_cannot_leave_make_the_bot_unready(
    tmp_path: Path, survey_folder: Path, clock: Clock
) -> None:
    async def platform_down(outbound) -> None:
        raise ConnectionError("the platform refuses every reply")

    async with running(
        database=tmp_path / "civicbot.db",
        survey_folder=survey_folder,
        adapters=[lambda handler: MemoryAdapter(handler, on_send=platform_down)],
        clock=clock,
        environ={"CIVICBOT_PSEUDONYM_KEY": "k"},
        health=("127.0.0.1", 0),
        send_retry_delays=(),
    ) as runtime:
        for n in range(101):
            await runtime.adapters[0].push(f"person{n}", "hello")
        clock.advance(120)
        status, body = await get(runtime, "/readyz")
        page = await metrics(runtime)
    assert status == 503
    assert body["checks"]["outbox"] == "101 replies waiting longer than 60 s"
    assert "civicbot_outbox_depth 101.0" in page
    assert "civicbot_outbox_oldest_seconds 120.0" in page


async def metrics(runtime: Runtime) -> str:
    url = f"http://127.0.0.1:{runtime.health.port}/metrics"
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return await response.text()


async def test_a_writer_process_that_died_is_counted_in_the_metrics(runtime: Runtime) -> None:
    await runtime.adapters[0].push("ann", "library")
    assert "civicbot_writer_restarts 0.0" in await metrics(runtime)
    os.kill(runtime.store.writer.pid, signal.SIGKILL)
    try:  # a write that met the dead process is refused, and the platform sends it again
        await runtime.adapters[0].push("ann", "yes", event_id="ann-yes")
    except NotStored:
        await runtime.adapters[0].push("ann", "yes", event_id="ann-yes")
    assert "civicbot_writer_restarts 1.0" in await metrics(runtime)


async def test_metrics_show_the_turns_of_a_survey_just_answered_and_nobody_in_them(
    runtime: Runtime,
) -> None:
    chat = runtime.adapters[0]
    for text in ["library", "yes", "1", "1", "5", "Call Ann Smith on 040 123 4567", "2"]:
        await chat.push("ann-smith", text)
    url = f"http://127.0.0.1:{runtime.health.port}/metrics"
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        page = await response.text()
    assert 'civicbot_turns_total{outcome="stored",platform="memory"} 7.0' in page
    assert "civicbot_turn_seconds_count 7.0" in page
    assert 'civicbot_sends_total{outcome="sent",platform="memory"}' in page
    assert "civicbot_outbox_stuck 0.0" in page
    # (a figure's digits can hold "040"; the number as written, or as digits, cannot)
    for personal in ("ann", "Ann", "040 123 4567", "0401234567", "dm-"):
        assert personal not in page


def test_a_turn_as_long_as_a_bucket_bound_counts_in_that_bucket_and_every_later_one() -> None:
    figures = Metrics()
    for seconds in (0.001, 0.004, 0.005, 9.0):
        figures.turn_seconds.observe(seconds)
    page = figures.exposition().decode()
    assert 'civicbot_turn_seconds_bucket{le="0.001"} 1.0' in page
    assert 'civicbot_turn_seconds_bucket{le="0.0025"} 1.0' in page
    assert 'civicbot_turn_seconds_bucket{le="0.005"} 3.0' in page
    assert 'civicbot_turn_seconds_bucket{le="5.0"} 3.0' in page
    assert 'civicbot_turn_seconds_bucket{le="+Inf"} 4.0' in page
    assert "civicbot_turn_seconds_count 4.0" in page
    assert "civicbot_turn_seconds_sum 9.01" in page


def test_a_counter_without_labels_is_shown_at_zero_before_anything_is_counted() -> None:
    assert "civicbot_turn_conflicts_total 0.0" in Metrics().exposition().decode()
