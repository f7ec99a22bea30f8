"""Matrix encryption and the bot's device, against a real Synapse on 127.0.0.1: messages
whose keys come late or never, and logging in as the same device every time."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from homeserver import Account, Synapse
from matrix_harness import HEARING_TIMEOUT, at_the_consent_question, bot_runtime, send_encrypted

from adapters.matrix_device import MatrixLogin, MatrixLoginError


async def test_a_message_the_bot_cannot_decrypt_is_asked_for_again_never_stored(
    synapse: Synapse, bot_account: Account, people: dict, tmp_path: Path, survey_folder: Path
) -> None:
    anna = people["anna"]
    async with bot_runtime(tmp_path, survey_folder, synapse, bot_account, unreadable_after=2):
        room = await at_the_consent_question(anna, bot_account.user_id)
        # Encrypted with a session whose key the bot never gets; "yes" waits behind it.
        keys = anna.client.olm.account.identity_keys
        unreadable = {
            "algorithm": "m.megolm.v1.aes-sha2",
            "sender_key": keys["curve25519"],
            "session_id": "a-session-never-shared",
            "ciphertext": "AwgAEnBsYWluIG5vbnNlbnNl",
            "device_id": anna.account.device_id,
        }
        send_encrypted(synapse, anna.account, room, unreadable)
        await anna.say(room, "yes")
        said = await anna.hear(room, bot_account.user_id, 4)
        assert said[2]["body"].startswith("I could not open your last message")
        assert said[3]["body"].startswith("How often do you visit the library?")
    with sqlite3.connect(tmp_path / "civicbot.db") as connection:
        assert connection.execute("SELECT count(*) FROM answers").fetchone() == (0,)
        assert connection.execute("SELECT status FROM responses").fetchall() == [("answering",)]


async def test_a_password_login_is_the_same_device_with_the_same_keys_at_every_start(
    synapse: Synapse, bot_account: Account, people: dict, tmp_path: Path, survey_folder: Path
) -> None:
    anna = people["anna"]
    login = MatrixLogin(bot_account.user_id, "CIVICBOT", password=bot_account.password)
    async with bot_runtime(tmp_path, survey_folder, synapse, bot_account, login=login):
        room = await at_the_consent_question(anna, bot_account.user_id)
    async with bot_runtime(tmp_path, survey_folder, synapse, bot_account, login=login):
        await anna.say(room, "yes")
        said = await anna.hear(room, bot_account.user_id, 3)
        assert said[2]["body"].startswith("How often do you visit the library?")
    devices = synapse.call(bot_account, "GET", "/devices")["devices"]
    assert sorted(d["device_id"] for d in devices) == sorted([bot_account.device_id, "CIVICBOT"])


async def test_a_token_of_another_device_is_refused_with_the_reason(
    synapse: Synapse, bot_account: Account, tmp_path: Path, survey_folder: Path
) -> None:
    login = MatrixLogin(bot_account.user_id, "CIVICBOT", access_token=bot_account.access_token)
    with pytest.raises(MatrixLoginError, match=f"belongs to device {bot_account.device_id}"):
        async with bot_runtime(tmp_path, survey_folder, synapse, bot_account, login=login):
            pass


async def test_a_wrong_password_is_refused_with_the_reason(
    synapse: Synapse, bot_account: Account, tmp_path: Path, survey_folder: Path
) -> None:
    login = MatrixLogin(bot_account.user_id, "CIVICBOT", password="not-the-password")
    with pytest.raises(MatrixLoginError, match=r"login of .* failed"):
        async with bot_runtime(tmp_path, survey_folder, synapse, bot_account, login=login):
            pass


async def test_a_message_whose_key_comes_late_is_answered_when_it_comes(
    synapse: Synapse, bot_account: Account, people: dict, tmp_path: Path, survey_folder: Path
) -> None:
    anna = people["anna"]
    async with bot_runtime(tmp_path, survey_folder, synapse, bot_account) as runtime:
        room = await at_the_consent_question(anna, bot_account.user_id)
        # "yes", encrypted with a new room key that reaches the bot only later
        olm = anna.client.olm
        [(_, key_for_bot)] = olm.share_group_session_parallel(room, [bot_account.user_id], True)
        olm.outbound_group_sessions[room].shared = True
        yes = {"type": "m.room.message", "content": {"msgtype": "m.text", "body": "yes"}}
        encrypted = olm.group_encrypt(room, yes)
        send_encrypted(synapse, anna.account, room, encrypted)
        async with asyncio.timeout(HEARING_TIMEOUT):
            while not runtime.adapters[0].waiting_for_keys():
                await anna.listen(bot_account.user_id)
        assert len(anna.heard[room]) == 2  # waiting for the key, not answering
        synapse.call(anna.account, "PUT", "/sendToDevice/m.room.encrypted/key", key_for_bot)
        said = await anna.hear(room, bot_account.user_id, 3)
        assert said[2]["body"].startswith("How often do you visit the library?")
