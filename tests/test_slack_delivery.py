"""Each reply reaches Slack once: after a connection reset that hid Slack's answer, after
civicbot was killed mid-post, and after it was killed holding replies Slack made it
wait for; and a reply Slack refuses for good is given up, not tried forever."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import aiohttp
from slack_harness import answers, posted_to, say, settle
from slack_stub import SlackWebApi

from bot.app import Runtime
from bot.run_status import undeliverable

CHILD = Path(__file__).parent / "slack_child.py"


async def test_a_reply_slack_took_before_the_connection_reset_is_posted_once(
    slack_bot: Runtime, events, slack_api: SlackWebApi
) -> None:
    slack_api.reset_after["chat.postMessage"] = 1  # posted, but civicbot never hears so
    await say(events, "UANN", "library", "Ev1")
    await settle(slack_bot)
    await slack_bot.outbox.resend_unsent()  # as the outbox's sweep does
    assert len(posted_to(slack_api, "DUANN")) == 1
    assert slack_api.made("conversations.history")  # looked up before posting again
    await say(events, "UANN", "yes", "Ev2")
    await settle(slack_bot)
    assert len(posted_to(slack_api, "DUANN")) == 2


async def test_a_reply_slack_refuses_for_good_is_given_up_and_shown_in_survey_status(
    slack_bot: Runtime, events, slack_api: SlackWebApi
) -> None:
    slack_api.fail["chat.postMessage"] = [(200, {"ok": False, "error": "invalid_blocks"}, {})]
    await say(events, "UANN", "library", "Ev1")
    await settle(slack_bot)
    await slack_bot.outbox.resend_unsent()
    assert len(slack_api.made("chat.postMessage")) == 1  # tried once, never again
    assert await slack_bot.store.unsent() == []
    (line,) = await undeliverable(slack_bot.store)
    assert line.startswith("1 reply could not be delivered and will not be tried again")
    assert "slack said invalid_blocks" in line


async def test_a_reply_slack_refuses_for_now_is_tried_again_without_looking_it_up(
    slack_bot: Runtime, events, slack_api: SlackWebApi
) -> None:
    slack_api.fail["chat.postMessage"] = [(200, {"ok": False, "error": "channel_not_found"}, {})]
    await say(events, "UANN", "library", "Ev1")
    await settle(slack_bot)
    await slack_bot.outbox.resend_unsent()
    assert posted_to(slack_api, "DUANN")[-1]["text"].startswith("City library feedback")
    assert not slack_api.made("conversations.history")  # a refusal is sure: nothing went
    assert await undeliverable(slack_bot.store) == []


@contextmanager
def slack_child(
    tmp_path: Path, survey_folder: Path, api: SlackWebApi
) -> Iterator[subprocess.Popen]:
    with open(tmp_path / "child.log", "a") as log:
        child = subprocess.Popen(
            [sys.executable, CHILD, tmp_path / "civicbot.db", survey_folder, api.url],
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
    try:
        yield child
    finally:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
            child.wait(30)


@asynccontextmanager
async def events_to(child: subprocess.Popen) -> AsyncIterator[tuple[aiohttp.ClientSession, str]]:
    assert child.stdout is not None
    line = await asyncio.wait_for(asyncio.to_thread(child.stdout.readline), 60)
    assert line.startswith("ready "), line
    async with aiohttp.ClientSession() as session:
        yield session, f"http://127.0.0.1:{line.split()[1]}/slack/events"


def kill(child: subprocess.Popen) -> None:
    child.kill()  # SIGKILL: nothing is cleaned up
    child.wait()


async def test_a_reply_posted_just_before_civicbot_was_killed_is_not_posted_again(
    tmp_path: Path, survey_folder: Path, slack_api: SlackWebApi
) -> None:
    slack_api.stall["chat.postMessage"] = 1  # Slack has the reply; civicbot waits to hear
    with slack_child(tmp_path, survey_folder, slack_api) as child:
        async with events_to(child) as events:
            await say(events, "UANN", "library", "Ev1")
            await asyncio.wait_for(slack_api.stalled.wait(), 30)
        kill(child)
    slack_api.unstalled.set()
    with slack_child(tmp_path, survey_folder, slack_api) as child:
        async with events_to(child) as events:  # ready: the outbox was sent at the start
            assert len(posted_to(slack_api, "DUANN")) == 1
            await say(events, "UANN", "yes", "Ev2")
            await slack_api.until(lambda: len(posted_to(slack_api, "DUANN")) >= 2)
    texts = [p["text"] for p in posted_to(slack_api, "DUANN")]
    assert texts[0].startswith("City library feedback")
    assert texts[1].startswith("How often do you visit the library?")


async def test_answers_acknowledged_while_replies_waited_for_slack_survive_a_kill(
    tmp_path: Path, survey_folder: Path, slack_api: SlackWebApi
) -> None:
    limited = (429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "20"})
    slack_api.fail["chat.postMessage"] = [limited]
    with slack_child(tmp_path, survey_folder, slack_api) as child:
        async with events_to(child) as events:
            async with asyncio.timeout(2):  # acknowledged at once, not after 2.5 s or 20 s
                for number, text in enumerate(["library", "yes", "1"]):
                    await say(events, "UANN", text, f"Ev{number}")
        kill(child)  # while the first reply still waits out Slack's 20 s
    assert answers(tmp_path) == {"visits": "weekly"}
    with slack_child(tmp_path, survey_folder, slack_api) as child:
        async with events_to(child):  # ready at once; what was left goes out meanwhile
            await slack_api.until(lambda: len(slack_api.history.get("DUANN", [])) >= 3)
            texts = [m["text"] for m in slack_api.history["DUANN"]]  # what Slack took
    assert texts[0].startswith("City library feedback")
    assert texts[1].startswith("How often do you visit the library?")
    assert texts[2].startswith("Which services have you used")
    assert len(texts) == 3
