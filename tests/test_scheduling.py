"""Digest schedules: cron in the configured time zone, kept across restarts, caught up."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from conftest import STAFF_ROOM, Clock, command, coordinated

pytestmark = pytest.mark.usefixtures("one_person_digests")

ZONE = "Europe/Helsinki"
MONDAY_8_UTC = datetime(2027, 1, 4, 8, 0, tzinfo=ZoneInfo("UTC")).timestamp()


def bot(tmp_path: Path, survey_folder: Path, clock: Clock):
    return coordinated(tmp_path, survey_folder, clock, timezone=ZONE)


async def test_a_schedule_runs_on_cron_time_in_the_configured_zone(
    tmp_path: Path, survey_folder: Path, clock: Clock
) -> None:
    async with bot(tmp_path, survey_folder, clock) as runtime:
        chat = runtime.adapters[0]
        await command(chat, "survey start library for everyone")
        reply = await command(chat, "survey schedule 1 0 9 * * mon")
        assert reply.startswith(
            "Schedule 1: the digest of run 1 at '0 9 * * mon' (Europe/Helsinki)"
        )
        upcoming = runtime.coordination.schedule.next_time(1)
        assert (upcoming.weekday(), upcoming.hour, upcoming.minute) == (0, 9, 0)
        assert upcoming.tzinfo.key == ZONE


async def test_a_scheduled_digest_is_posted_at_its_time_and_not_before(
    tmp_path: Path, survey_folder: Path, clock: Clock
) -> None:
    clock.now = MONDAY_8_UTC  # 10:00 in Helsinki
    async with bot(tmp_path, survey_folder, clock) as runtime:
        chat = runtime.adapters[0]
        await command(chat, "survey start library for everyone")
        await command(chat, "survey schedule 1 30 10 * * *")  # 10:30 Helsinki, 8:30 UTC
        for text in ["library", "yes", "1", "1", "5", "Fine", "skip"]:
            await chat.push("dee", text)
        told = len(chat.to(STAFF_ROOM))
        clock.advance(29 * 60)
        await runtime.scheduler.settled()
        assert len(chat.to(STAFF_ROOM)) == told  # 10:29: nothing yet
        clock.advance(60)
        await runtime.scheduler.settled()
        digest, *files = chat.to(STAFF_ROOM)[told:]
        assert [f.attachment.media_type for f in files] == ["image/png", "text/csv"]
        assert digest.message.text.startswith("Digest: City library feedback (run 1)")
        assert "Responses: 1 (1 new)" in digest.message.text
        clock.advance(24 * 3600)  # and again the next day, with nothing new
        await runtime.scheduler.settled()
        again = chat.to(STAFF_ROOM)[told + 1 + len(files)]
        assert again.message.text == (
            "Digest: City library feedback (run 1): no new responses since 4 Jan 10:30."
        )


async def test_a_cron_time_that_cannot_work_is_explained(
    tmp_path: Path, survey_folder: Path, clock: Clock
) -> None:
    async with bot(tmp_path, survey_folder, clock) as runtime:
        chat = runtime.adapters[0]
        await command(chat, "survey start library for everyone")
        reply = await command(chat, "survey schedule 1 61 9 * * mon")
        assert reply.startswith("'61 9 * * mon' is not a cron time I can use")
        assert "'0 9 * * mon' for Mondays at 9:00" in reply


async def test_schedules_survive_a_restart(
    tmp_path: Path, survey_folder: Path, clock: Clock
) -> None:
    clock.now = MONDAY_8_UTC
    async with bot(tmp_path, survey_folder, clock) as runtime:
        chat = runtime.adapters[0]
        await command(chat, "survey start library for everyone")
        await command(chat, "survey schedule 1 0 9 * * *")
    async with bot(tmp_path, survey_folder, clock) as runtime:
        status = await command(runtime.adapters[0], "survey status 1")
        assert "Schedule 1: digest at '0 9 * * *' (Europe/Helsinki), next " in status
        assert runtime.coordination.schedule.next_time(1) is not None


async def test_a_digest_missed_while_down_is_caught_up_once_at_start(
    tmp_path: Path, survey_folder: Path, clock: Clock
) -> None:
    clock.now = MONDAY_8_UTC  # 10:00 in Helsinki: today's 9:00 has passed
    async with bot(tmp_path, survey_folder, clock) as runtime:
        chat = runtime.adapters[0]
        await command(chat, "survey start library for everyone")
        await command(chat, "survey schedule 1 0 9 * * *")
        for text in ["library", "yes", "1", "1", "5", "Fine", "skip"]:
            await chat.push("dee", text)
    clock.now += 2 * 24 * 3600  # down over two 9:00s
    async with bot(tmp_path, survey_folder, clock) as runtime:
        posted = [
            m.message.text for m in runtime.adapters[0].to(STAFF_ROOM) if m.attachment is None
        ]
        assert len(posted) == 1  # once, however many times were missed
        assert posted[0].startswith("Digest: City library feedback (run 1)")
        assert "Responses: 1 (1 new)" in posted[0]
    async with bot(tmp_path, survey_folder, clock) as runtime:  # the same moment again
        assert runtime.adapters[0].to(STAFF_ROOM) == []
    with sqlite3.connect(tmp_path / "civicbot.db") as connection:
        assert connection.execute("SELECT count(*) FROM digests").fetchone() == (1,)


async def test_unschedule_removes_a_schedule(
    tmp_path: Path, survey_folder: Path, clock: Clock
) -> None:
    async with bot(tmp_path, survey_folder, clock) as runtime:
        chat = runtime.adapters[0]
        await command(chat, "survey start library for everyone")
        await command(chat, "survey schedule 1 0 9 * * *")
        assert await command(chat, "survey unschedule 1") == "Schedule 1 removed."
        assert runtime.coordination.schedule.next_time(1) is None
        assert "Schedule" not in await command(chat, "survey status 1")
        assert (await command(chat, "survey unschedule 1")).startswith("There is no schedule 1.")


async def test_a_schedule_more_often_than_hourly_is_refused(
    tmp_path: Path, survey_folder: Path, clock: Clock
) -> None:
    async with bot(tmp_path, survey_folder, clock) as runtime:
        chat = runtime.adapters[0]
        await command(chat, "survey start library for everyone")
        reply = await command(chat, "survey schedule 1 */30 9 * * *")
        assert reply.startswith("'*/30 9 * * *' is not a cron time I can use (it fires every 30")
        assert (await command(chat, "survey schedule 1 0 9,10 * * *")).startswith("Schedule 1:")


async def test_a_run_a_citizen_opened_is_scheduled_only_once_it_has_a_staff_channel(
    tmp_path: Path, survey_folder: Path, clock: Clock
) -> None:
    clock.now = MONDAY_8_UTC
    async with bot(tmp_path, survey_folder, clock) as runtime:
        chat = runtime.adapters[0]
        await chat.push("dee", "library")  # the keyword opens run 1, with no staff channel
        refused = await command(chat, "survey schedule 1 0 11 * * *")
        assert refused.startswith("Run 1 has no staff channel for its digests")
        adopted = await command(chat, "survey start library for everyone")
        assert adopted.endswith("Its digests now go to this conversation.")
        assert (await command(chat, "survey schedule 1 0 11 * * *")).startswith("Schedule 1:")
        clock.advance(3600)  # 11:00 in Helsinki
        await runtime.scheduler.settled()
        posted = [m.message.text for m in chat.to(STAFF_ROOM)]
        assert [t for t in posted if t.startswith("Digest: City library feedback")] != []
