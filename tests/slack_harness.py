"""What the Slack tests share: the loopback stand-in of Slack's Web API, civicbot
running against it in HTTP or Socket Mode, and the requests Slack would send."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from slack_stub import (
    APP_TOKEN,
    BOT_TOKEN,
    SIGNING_SECRET,
    TEAM,
    SlackWebApi,
    message_event,
    post,
    signed,
)

from adapters.slack import SlackAdapter
from bot.app import Runtime, running


@pytest.fixture
async def slack_api() -> AsyncIterator[SlackWebApi]:
    api = SlackWebApi(locales={"UFI": "fi-FI"}, channels={"CCLIENTS": ["UANN", "UBEN", "UCAT"]})
    await api.start()
    yield api
    await api.stop()


def slack_running(tmp_path: Path, survey_folder: Path, api: SlackWebApi, **mode: object):
    """civicbot with its Slack adapter talking to the stand-in; `mode` picks HTTP or Socket."""

    def adapter(handler):
        return SlackAdapter(
            handler, bot_token=BOT_TOKEN, signing_secret=SIGNING_SECRET, api_url=api.url, **mode
        )

    return running(
        database=tmp_path / "civicbot.db",
        survey_folder=survey_folder,
        adapters=[adapter],
        environ={"CIVICBOT_PSEUDONYM_KEY": "k"},
        coordinators=frozenset({"slack:UCOORD", "slack:T0001/UTEAM"}),
        send_retry_delays=(),  # a failed send stays in the outbox at once
    )


@pytest.fixture
async def slack_bot(
    tmp_path: Path, survey_folder: Path, slack_api: SlackWebApi
) -> AsyncIterator[Runtime]:
    async with slack_running(tmp_path, survey_folder, slack_api, port=0) as runtime:
        yield runtime


@pytest.fixture
async def events(slack_bot: Runtime) -> AsyncIterator[tuple[aiohttp.ClientSession, str]]:
    async with aiohttp.ClientSession() as session:
        yield session, f"http://127.0.0.1:{slack_bot.adapters[0].port}/slack/events"


def answers(tmp_path: Path) -> dict[str, object]:
    with sqlite3.connect(tmp_path / "civicbot.db") as connection:
        found = connection.execute("SELECT question_id, value FROM answers").fetchall()
    return {question: json.loads(value) for question, value in found}


def posted_to(api: SlackWebApi, channel: str) -> list[dict]:
    return [p for p in api.made("chat.postMessage") if p["channel"] == channel]


async def say(events, user: str, text: str, event_id: str, **headers: str):
    session, url = events
    body = message_event(user, text, event_id)
    response = await post(session, url, body, headers={**signed(body), **headers})
    assert response.status == 200
    return response


async def survey_command(
    events,
    api: SlackWebApi,
    text: str,
    *,
    user: str = "UCOORD",
    channel: str = "CSTAFF",
    team: str = TEAM,
) -> None:
    """`/survey text` typed in a channel: Slack's signed form post, acknowledged."""
    session, url = events
    body = api.slash_command(user, channel, text, team=team)
    assert (await post(session, url, body, form=True)).status == 200


async def settle(slack_bot: Runtime) -> None:
    """Wait for the work after acknowledging: commands, and the replies of stored turns."""
    await slack_bot.adapters[0].settled()
    await slack_bot.bot.settled()


async def at_the_services_question(slack_bot: Runtime, events, slack_api: SlackWebApi) -> dict:
    """Ann starts the library survey, consents, and gets the multiple-choice question."""
    for number, text in enumerate(["library", "yes", "1"]):
        await say(events, "UANN", text, f"Ev{number}")
        await settle(slack_bot)
    return posted_to(slack_api, "DUANN")[-1]


def as_shown(question: dict) -> dict:
    """The posted question as Slack hands it back in a block action: with its ts."""
    return {"ts": "1700000009.000100", "text": question["text"], "blocks": question["blocks"]}


async def ann_answers_the_library_survey(
    events, slack_api: SlackWebApi, *, comment: str = "Fine"
) -> None:
    """A coordinator opens the library survey to everyone and Ann answers it through."""
    await survey_command(events, slack_api, "start library for everyone")
    for number, text in enumerate(["library", "yes", "1", "1", "5", comment, "skip"]):
        await say(events, "UANN", text, f"Ev{number}")


@pytest.fixture
async def socket_bot(
    tmp_path: Path, survey_folder: Path, slack_api: SlackWebApi
) -> AsyncIterator[Runtime]:
    async with slack_running(tmp_path, survey_folder, slack_api, app_token=APP_TOKEN) as runtime:
        await asyncio.wait_for(slack_api.connected.wait(), 10)
        yield runtime


async def a_digest_of_anns_answers(slack_bot: Runtime, events, slack_api: SlackWebApi) -> None:
    await ann_answers_the_library_survey(events, slack_api)
    await survey_command(events, slack_api, "digest 1")
    await settle(slack_bot)
