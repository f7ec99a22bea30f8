"""civicbot backup into one archive while the bot runs, and civicbot restore from it:
the answers, the conversations in progress and the pseudonym key come back; a restore
never replaces a running bot's database, nor one from an archive that was altered."""

from __future__ import annotations

import io
import sqlite3
import tarfile
from pathlib import Path

from click.testing import CliRunner

from adapters.memory import MemoryAdapter
from bot.app import running
from bot.cli import main


def settings(tmp_path: Path, survey_folder: Path) -> dict:
    # no CIVICBOT_PSEUDONYM_KEY: the key is a file beside the database, and must travel
    return {
        "database": tmp_path / "state" / "civicbot.db",
        "survey_folder": survey_folder,
        "adapters": [MemoryAdapter],
        "environ": {},
    }


def civicbot(tmp_path: Path, *args: str):
    config = tmp_path / "civicbot.toml"
    config.write_text(f'[storage]\ndatabase = "{tmp_path / "state" / "civicbot.db"}"\n')
    return CliRunner().invoke(main, [*args, "--config", str(config)], env={})


async def test_a_restored_archive_carries_on_the_conversations_that_were_in_progress(
    tmp_path: Path, survey_folder: Path
) -> None:
    (tmp_path / "state").mkdir()
    async with running(**settings(tmp_path, survey_folder)) as runtime:
        chat = runtime.adapters[0]
        for text in ["library", "yes", "1"]:
            await chat.push("ann", text, event_id=f"ann-{text}")
        (tmp_path / "state" / "matrix-sync-checkpoint").write_text("s72594_4483_1934")
        made = civicbot(tmp_path, "backup", str(tmp_path / "saved.tar.gz"))  # while it runs
        assert made.exit_code == 0, made.output
    state = tmp_path / "state"
    for lost in state.iterdir():  # the disk is gone
        lost.unlink()
    restored = civicbot(tmp_path, "restore", str(tmp_path / "saved.tar.gz"))
    assert restored.exit_code == 0, restored.output
    assert (state / "matrix-sync-checkpoint").read_text() == "s72594_4483_1934"
    async with running(**settings(tmp_path, survey_folder)) as runtime:
        chat = runtime.adapters[0]
        await chat.push("ann", "1, 2", event_id="ann-services")  # the next question, as before
        assert chat.sent[-1].message.text.startswith("Overall, how satisfied")
    with sqlite3.connect(state / "civicbot.db") as connection:
        (people,) = connection.execute("SELECT count(*) FROM participants").fetchone()
        answered = connection.execute("SELECT question_id FROM answers ORDER BY 1").fetchall()
    assert people == 1  # Ann is Ann again: the key came back too
    assert answered == [("services",), ("visits",)]


async def test_a_restore_refuses_while_civicbot_runs_on_the_database(
    tmp_path: Path, survey_folder: Path
) -> None:
    (tmp_path / "state").mkdir()
    async with running(**settings(tmp_path, survey_folder)) as runtime:
        await runtime.adapters[0].push("ann", "library")
        assert civicbot(tmp_path, "backup", str(tmp_path / "saved.tar.gz")).exit_code == 0
        refused = civicbot(tmp_path, "restore", str(tmp_path / "saved.tar.gz"))
        assert refused.exit_code == 1
        assert "another civicbot is running on this database" in refused.output
    assert (
        sorted(p.name for p in (tmp_path / "state").iterdir() if "before-restore" in p.name) == []
    )


async def test_an_archive_that_was_altered_is_refused_and_nothing_is_touched(
    tmp_path: Path, survey_folder: Path
) -> None:
    (tmp_path / "state").mkdir()
    async with running(**settings(tmp_path, survey_folder)) as runtime:
        await runtime.adapters[0].push("ann", "library")
    assert civicbot(tmp_path, "backup", str(tmp_path / "saved.tar.gz")).exit_code == 0
    altered = tmp_path / "altered.tar.gz"
    with tarfile.open(tmp_path / "saved.tar.gz") as source, tarfile.open(altered, "w:gz") as out:
        for member in source.getmembers():
            data = source.extractfile(member).read()
            if member.name == "civicbot.db.key":
                data = b"someone else's key"
                member.size = len(data)
            out.addfile(member, io.BytesIO(data))
    before = (tmp_path / "state" / "civicbot.db.key").read_bytes()
    refused = civicbot(tmp_path, "restore", str(altered))
    assert refused.exit_code == 1
    assert "civicbot.db.key does not match its checksum; nothing restored" in refused.output
    assert (tmp_path / "state" / "civicbot.db.key").read_bytes() == before
