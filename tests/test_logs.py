"""civicbot's log, as `civicbot run` writes it, holds no participant's words, address,
phone number or platform id: a whole conversation on each platform is scanned for them."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from slack_harness import say, settle, slack_running
from slack_stub import SlackWebApi, message_event, post, signed

from adapters.web import WebAdapter
from bot import logs
from bot.app import running

PERSONAL = "Ann Smith here, call me on 040 123 4567"
LIBRARY_ANSWERS = ["library", "yes", "1", "1", "4", PERSONAL, "skip"]


@pytest.fixture
def civicbot_log() -> Iterator[io.StringIO]:
    """The log `civicbot run` writes (INFO), captured; every logger as it was afterwards."""
    levels = {name: logging.getLogger(name).level for name in ("", *logs.LIBRARIES)}
    written = io.StringIO()
    handler = logs.configure("INFO", stream=written)
    yield written
    logging.getLogger().removeHandler(handler)
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def assert_nothing_personal(log: str, *ids: str) -> None:
    assert log.strip(), "the scenario logged nothing: the scan would prove nothing"
    for secret in ("Ann Smith", "040 123 4567", "0401234567", *ids):
        assert secret not in log


async def test_a_slack_conversation_and_forged_requests_leave_nothing_personal_in_the_log(
    civicbot_log: io.StringIO, tmp_path: Path, survey_folder: Path, slack_api: SlackWebApi
) -> None:
    async with slack_running(tmp_path, survey_folder, slack_api, port=0) as runtime:
        url = f"http://127.0.0.1:{runtime.adapters[0].port}/slack/events"
        async with aiohttp.ClientSession() as session:
            events = (session, url)
            for number, text in enumerate(LIBRARY_ANSWERS):
                await say(events, "UANN", text, f"Ev{number}")
                await settle(runtime)
            forged = message_event("UANN", PERSONAL, "EvForged")
            wrong = {**signed(forged, secret="not-the-secret")}
            assert (await post(session, url, forged, headers=wrong)).status == 401
            unhandled = message_event("UANN", PERSONAL, "EvOdd").replace(
                '"type": "message"', '"type": "reaction_added"'
            )
            await post(session, url, unhandled, headers=signed(unhandled))
    assert_nothing_personal(civicbot_log.getvalue(), "UANN", "DUANN")


async def test_a_web_chat_conversation_leaves_nothing_personal_in_the_log(
    civicbot_log: io.StringIO, tmp_path: Path, survey_folder: Path
) -> None:
    async with running(
        database=tmp_path / "civicbot.db",
        survey_folder=survey_folder,
        adapters=[lambda handler: WebAdapter(handler, port=0)],
        environ={"CIVICBOT_PSEUDONYM_KEY": "k"},
    ) as runtime:
        base = f"http://127.0.0.1:{runtime.adapters[0].port}"
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
            await session.get(f"{base}/")
            cookie = next(iter(session.cookie_jar)).value
            for number, text in enumerate(LIBRARY_ANSWERS):
                sent = await session.post(
                    f"{base}/api/messages", json={"text": text, "id": f"msg-{number:05d}"}
                )
                assert sent.status == 202
            await session.post(f"{base}/api/messages", data=b"{" * 5000)  # unreadable
    assert_nothing_personal(civicbot_log.getvalue(), cookie)


def test_a_traceback_keeps_its_frames_and_withholds_its_message(
    civicbot_log: io.StringIO,
) -> None:
    try:
        raise RuntimeError(f"the platform answered about {PERSONAL}")
    except RuntimeError:
        logging.getLogger("bot.core").exception("sending the replies failed")
    written = civicbot_log.getvalue()
    assert "sending the replies failed" in written
    assert "RuntimeError (message withheld)" in written
    assert 'test_logs.py", line' in written
    assert PERSONAL not in written


def test_a_json_log_is_one_object_a_line_and_withholds_the_same(
    civicbot_log: io.StringIO,
) -> None:
    written = io.StringIO()
    handler = logs.configure("INFO", stream=written, form="json")
    try:
        logging.getLogger("bot.outbox").warning("sending %d replies left in the outbox", 3)
        try:
            raise RuntimeError(f"the platform answered about {PERSONAL}")
        except RuntimeError:
            logging.getLogger("bot.core").exception("sending the replies failed")
        logging.getLogger("slack_bolt.App").warning("Unhandled request (%s)", PERSONAL)
    finally:
        logging.getLogger().removeHandler(handler)
    lines = [json.loads(line) for line in written.getvalue().splitlines()]
    assert [(line["level"], line["logger"]) for line in lines] == [
        ("WARNING", "bot.outbox"),
        ("ERROR", "bot.core"),
        ("WARNING", "slack_bolt.App"),
    ]
    assert lines[0]["message"] == "sending 3 replies left in the outbox"
    assert lines[1]["exception"].endswith("RuntimeError (message withheld)")
    assert PERSONAL not in written.getvalue()
