"""Matrix at its edges, against a real Synapse on 127.0.0.1: a join the homeserver
refuses for a while, a reply too large for one event, a restart that lost its sync
checkpoint, edited messages, and a restore from a backup archive."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

from homeserver import Account, Synapse
from matrix_harness import HEARING_TIMEOUT, Person, bot_runtime, stored_answers
from nio import JoinError

from storage.archive import archive, restore

STORY = """
id: stories
keyword: story
open: true
languages: [en]
title: {en: Your story}
questions:
  - id: story
    type: text
    max_length: 10000
    text: {en: "Tell us what happened."}
"""


async def test_a_join_the_homeserver_refuses_for_a_while_is_tried_again_and_the_person_answered(
    synapse: Synapse, bot_account: Account, people: dict, tmp_path: Path, survey_folder: Path
) -> None:
    anna: Person = people["anna"]
    async with bot_runtime(tmp_path, survey_folder, synapse, bot_account) as runtime:
        client = runtime.adapters[0].client
        join = client.join
        refusals = [JoinError("Too Many Requests", "M_LIMIT_EXCEEDED", retry_after_ms=300)] * 2

        async def rate_limited_join(room_id: str):
            return refusals.pop() if refusals else await join(room_id)

        client.join = rate_limited_join
        room = await anna.open_dm(bot_account.user_id)
        greeting = (await anna.hear(room, bot_account.user_id, 1))[0]  # so it joined
        assert refusals == []  # after being refused twice
        assert greeting["body"]
        await anna.say(room, "library")
        said = await anna.hear(room, bot_account.user_id, 2)
        assert said[1]["body"].startswith("City library feedback")


async def test_a_reply_too_large_for_one_event_arrives_in_parts(
    synapse: Synapse, bot_account: Account, people: dict, tmp_path: Path, survey_folder: Path
) -> None:
    (survey_folder / "stories.yaml").write_text(STORY)
    anna: Person = people["anna"]
    story = "😀" * 4_000  # as JSON, 12 bytes a character: two of it pass 65,536 bytes
    async with bot_runtime(tmp_path, survey_folder, synapse, bot_account):
        room = await anna.open_dm(bot_account.user_id, encrypted=True)
        await anna.hear(room, bot_account.user_id, 1)
        await anna.say(room, "story")
        await anna.hear(room, bot_account.user_id, 2)
        await anna.say(room, story)
        heard = len(await anna.hear(room, bot_account.user_id, 3))  # thanks
        await anna.say(room, "my data")
        async with asyncio.timeout(HEARING_TIMEOUT):
            while "".join(p["body"] for p in anna.heard[room][heard:]).count("😀") < 4_000:
                await anna.listen(bot_account.user_id)
    parts = anna.heard[room][heard:]  # each one an event Synapse took, encrypted
    assert len(parts) >= 2
    assert json.loads(dict(stored_answers(tmp_path))["story"]) == story


async def test_messages_sent_while_the_bot_was_down_are_answered_after_a_lost_checkpoint(
    synapse: Synapse, bot_account: Account, people: dict, tmp_path: Path, survey_folder: Path
) -> None:
    anna: Person = people["anna"]
    async with bot_runtime(tmp_path, survey_folder, synapse, bot_account):
        room = await anna.open_dm(bot_account.user_id)
        await anna.hear(room, bot_account.user_id, 1)
        await anna.say(room, "library")
        await anna.hear(room, bot_account.user_id, 2)
    (tmp_path / "matrix-sync-checkpoint").unlink()  # lost with a volume, say
    for text in ["yes", "1"]:
        await anna.say(room, text)
    async with bot_runtime(tmp_path, survey_folder, synapse, bot_account):
        said = await anna.hear(room, bot_account.user_id, 4)
        assert said[2]["body"].startswith("How often do you visit the library?")
        assert said[3]["body"].startswith("Which services have you used")
        await anna.say(room, "1, 2")
        said = await anna.hear(room, bot_account.user_id, 5)
        assert said[4]["body"].startswith("Overall, how satisfied")  # nothing twice between
    assert json.loads(dict(stored_answers(tmp_path))["visits"]) == "weekly"


async def test_an_edit_is_a_new_try_only_for_an_answer_the_question_did_not_take(
    synapse: Synapse, bot_account: Account, people: dict, tmp_path: Path, survey_folder: Path
) -> None:
    anna: Person = people["anna"]
    async with bot_runtime(tmp_path, survey_folder, synapse, bot_account):
        room = await anna.open_dm(bot_account.user_id, encrypted=True)
        await anna.hear(room, bot_account.user_id, 1)
        for number, text in enumerate(["library", "yes"], start=2):
            await anna.say(room, text)
            await anna.hear(room, bot_account.user_id, number)
        typo = await anna.say(room, "wekly")
        await anna.hear(room, bot_account.user_id, 4)  # asked again
        await anna.edit(room, typo, "1")
        said = await anna.hear(room, bot_account.user_id, 5)
        assert said[4]["body"].startswith("Which services have you used")
        await anna.edit(room, typo, "2")  # the question took it: it stays
        said = await anna.hear(room, bot_account.user_id, 6)
        assert said[5]["body"] == "I kept your first answer. To change it, type back."
    assert json.loads(dict(stored_answers(tmp_path))["visits"]) == "weekly"


def lose_the_state(folder: Path) -> None:
    """The machine is gone; the archive is not."""
    for lost in [*folder.glob("civicbot.db*"), folder / "matrix-sync-checkpoint"]:
        lost.unlink()
    shutil.rmtree(folder / "matrix-crypto")


async def test_a_restored_backup_still_reads_the_encrypted_rooms(
    synapse: Synapse, bot_account: Account, people: dict, tmp_path: Path, survey_folder: Path
) -> None:
    anna: Person = people["anna"]
    async with bot_runtime(tmp_path, survey_folder, synapse, bot_account):
        room = await anna.open_dm(bot_account.user_id, encrypted=True)
        await anna.hear(room, bot_account.user_id, 1)
        await anna.say(room, "library")
        await anna.hear(room, bot_account.user_id, 2)
        archive(tmp_path / "civicbot.db", tmp_path / "saved.tar.gz")  # while it runs
    lose_the_state(tmp_path)
    restore(tmp_path / "saved.tar.gz", tmp_path / "civicbot.db")
    async with bot_runtime(tmp_path, survey_folder, synapse, bot_account):
        await anna.say(room, "yes")  # encrypted for the bot's device as it was
        said = await anna.hear(room, bot_account.user_id, 3)
        assert said[2]["body"].startswith("How often do you visit the library?")
