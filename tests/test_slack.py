"""Slack through slack-bolt: signed requests in, Slack's Web API (a loopback stand-in) out."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from conftest import Clock
from slack_stub import (
    APP_TOKEN,
    BOT_TOKEN,
    SIGNING_SECRET,
    TEAM,
    SlackWebApi,
    click,
    mention_event,
    message_event,
    post,
    send_choices,
    signed,
)

from adapters.slack import SlackAdapter
from adapters.slack_pacing import PostSlots, ResponseUrls
from bot.app import Runtime, running


@pytest.fixture
async def slack_api() -> AsyncIterator[SlackWebApi]:
    api = SlackWebApi(locales={"UFI": "fi-FI"}, channels={"CCLIENTS": ["UANN", "UBEN", "UCAT"]})
    await api.start()
    yield api
    await api.stop()


def slack_bot(tmp_path: Path, survey_folder: Path, api: SlackWebApi, **mode: object):
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
async def bot(
    tmp_path: Path, survey_folder: Path, slack_api: SlackWebApi
) -> AsyncIterator[Runtime]:
    async with slack_bot(tmp_path, survey_folder, slack_api, port=0) as runtime:
        yield runtime


@pytest.fixture
async def events(bot: Runtime) -> AsyncIterator[tuple[aiohttp.ClientSession, str]]:
    async with aiohttp.ClientSession() as session:
        yield session, f"http://127.0.0.1:{bot.adapters[0].port}/slack/events"


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


async def settle(bot: Runtime) -> None:
    """Wait for the replies the adapter sends after acknowledging."""
    await bot.adapters[0].settled()


async def test_a_citizen_completes_a_survey_by_typing(
    bot: Runtime, events, slack_api: SlackWebApi, tmp_path: Path
) -> None:
    for number, text in enumerate(["library", "yes", "1", "1, 2", "4", "More hours", "skip"]):
        await say(events, "UANN", text, f"Ev{number}")
    await settle(bot)
    sent = [p["text"] for p in posted_to(slack_api, "DUANN")]
    assert sent[0].startswith("City library feedback")
    assert sent[-1] == "Thank you! Library staff read every answer."
    assert answers(tmp_path) == {
        "visits": "weekly",
        "services": ["loans", "ebooks"],
        "satisfaction": 4,
        "improve": "More hours",
        "age_group": None,
    }


async def test_buttons_answer_and_the_question_shows_the_choice(
    bot: Runtime, events, slack_api: SlackWebApi, tmp_path: Path
) -> None:
    session, url = events
    await say(events, "UANN", "library", "Ev1")
    await settle(bot)
    question = posted_to(slack_api, "DUANN")[-1]
    buttons = question["blocks"][-1]["elements"]
    assert [b["text"]["text"] for b in buttons] == ["1. Yes", "2. No"]
    message = {"ts": "1700000001.000100", "text": question["text"], "blocks": question["blocks"]}
    body = click("UANN", message, buttons[0])
    response = await post(session, url, body, form=True)
    assert response.status == 200
    await settle(bot)
    update = slack_api.made("chat.update")[-1]
    assert update["ts"] == "1700000001.000100"
    assert update["blocks"][-1]["elements"][0]["text"] == "✓ 1. Yes"
    assert all(b["type"] != "actions" for b in update["blocks"])
    assert "How often do you visit the library?" in posted_to(slack_api, "DUANN")[-1]["text"]


async def at_the_services_question(bot: Runtime, events, slack_api: SlackWebApi) -> dict:
    """Ann starts the library survey, consents, and gets the multiple-choice question."""
    for number, text in enumerate(["library", "yes", "1"]):
        await say(events, "UANN", text, f"Ev{number}")
        await settle(bot)
    return posted_to(slack_api, "DUANN")[-1]


def as_shown(question: dict) -> dict:
    """The posted question as Slack hands it back in a block action: with its ts."""
    return {"ts": "1700000009.000100", "text": question["text"], "blocks": question["blocks"]}


async def test_multiple_choice_is_answered_with_checkboxes_and_a_send_button(
    bot: Runtime, events, slack_api: SlackWebApi, tmp_path: Path
) -> None:
    session, url = events
    question = await at_the_services_question(bot, events, slack_api)
    assert question["text"].startswith("Which services have you used this year?")
    [boxes] = [b for b in question["blocks"] if b.get("block_id") == "pick-0"]
    options = boxes["elements"][0]["options"]
    assert question["blocks"][-1]["elements"][0]["text"]["text"] == "Send my choices"
    assert [o["text"]["text"] for o in options[:2]] == [
        "1. Borrowing books",
        "2. E-books and audiobooks",
    ]
    body = send_choices("UANN", as_shown(question), [options[0], options[2]])
    assert (await post(session, url, body, form=True)).status == 200
    await settle(bot)
    shown = slack_api.made("chat.update")[-1]["blocks"][-1]["elements"][0]["text"]
    assert shown == "✓ 1. Borrowing books, 3. Events and courses"
    assert answers(tmp_path)["services"] == ["loans", "events"]


async def test_sending_no_ticked_boxes_asks_the_question_again(
    bot: Runtime, events, slack_api: SlackWebApi, tmp_path: Path
) -> None:
    session, url = events
    question = await at_the_services_question(bot, events, slack_api)
    body = send_choices("UANN", as_shown(question), [])
    assert (await post(session, url, body, form=True)).status == 200
    await settle(bot)
    again = posted_to(slack_api, "DUANN")[-1]["text"]
    assert again.startswith("Please choose from 1 to 5 options.")
    assert "Which services have you used this year?" in again
    assert slack_api.made("chat.update") == []  # the boxes stay, to be ticked
    assert "services" not in answers(tmp_path)


async def test_the_slack_language_picks_the_survey_language(
    bot: Runtime, events, slack_api: SlackWebApi
) -> None:
    await say(events, "UFI", "library", "Ev1")
    await settle(bot)
    assert posted_to(slack_api, "DUFI")[-1]["text"].startswith("Kaupunginkirjaston palautekysely")


async def test_retries_and_duplicates_count_once(
    bot: Runtime, events, slack_api: SlackWebApi, tmp_path: Path
) -> None:
    await say(events, "UANN", "library", "Ev1")
    await say(events, "UANN", "yes", "Ev2")
    await say(events, "UANN", "2", "Ev3")
    await say(
        events,
        "UANN",
        "2",
        "Ev3",
        **{"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"},
    )
    await say(events, "UANN", "2", "Ev3", **{"X-Slack-Retry-Num": "2"})
    await settle(bot)
    assert answers(tmp_path) == {"visits": "monthly"}
    assert len(posted_to(slack_api, "DUANN")) == 3


@pytest.mark.parametrize(
    "headers",
    [
        signed("{}", secret="wrong-secret"),
        signed("{}", at=int(time.time()) - 60 * 10),
        {"X-Slack-Request-Timestamp": "not-a-number", "X-Slack-Signature": "v0=00"},
        {},
    ],
    ids=["forged", "stale", "non-numeric-timestamp", "missing-headers"],
)
async def test_forged_and_stale_requests_are_refused_and_store_nothing(
    bot: Runtime, events, headers: dict[str, str], tmp_path: Path
) -> None:
    session, url = events
    body = message_event("UANN", "library", "Ev1")
    response = await post(session, url, body, headers=headers)
    assert response.status == 401
    await settle(bot)
    with sqlite3.connect(tmp_path / "civicbot.db") as connection:
        assert connection.execute("SELECT count(*) FROM processed_events").fetchone() == (0,)


async def test_events_civicbot_ignores_are_still_acknowledged(bot: Runtime, events) -> None:
    session, url = events
    body = json.dumps(
        {
            "type": "event_callback",
            "team_id": "T0001",
            "api_app_id": "A0001",
            "event_id": "EvR",
            "event_time": 1,
            "event": {"type": "reaction_added", "user": "UANN", "reaction": "thumbsup"},
        }
    )
    assert (await post(session, url, body)).status == 200
    channel_message = message_event("UANN", "hello all", "EvC", channel="CGENERAL")
    channel_message = channel_message.replace('"channel_type": "im"', '"channel_type": "channel"')
    assert (await post(session, url, channel_message)).status == 200


async def test_survey_command_answers_the_coordinator_privately(
    bot: Runtime, events, slack_api: SlackWebApi
) -> None:
    await survey_command(events, slack_api, "start library for everyone")
    await settle(bot)
    reply = slack_api.made("response_url")[-1]
    assert reply["response_type"] == "ephemeral"
    assert reply["text"].startswith("Run 1 of 'City library feedback' started for everyone")
    await survey_command(events, slack_api, "list", user="UMAL")
    await settle(bot)
    assert slack_api.made("response_url")[-1]["text"].startswith("Sorry, survey commands")


async def test_a_coordinator_named_with_a_team_is_allowed_only_from_that_team(
    bot: Runtime, events, slack_api: SlackWebApi
) -> None:
    await survey_command(events, slack_api, "list", user="UTEAM")
    await settle(bot)
    await survey_command(events, slack_api, "list", user="UTEAM", team="T0666")
    await settle(bot)
    first, second = (r["text"] for r in slack_api.made("response_url"))
    assert first.startswith("Surveys")
    assert second.startswith("Sorry, survey commands")


async def test_a_mention_in_a_channel_is_a_command_answered_privately(
    bot: Runtime, events, slack_api: SlackWebApi
) -> None:
    session, url = events
    response = await post(session, url, mention_event("UCOORD", "CSTAFF", "survey list", "Ev9"))
    assert response.status == 200
    await settle(bot)
    reply = slack_api.made("chat.postEphemeral")[-1]
    assert (reply["channel"], reply["user"]) == ("CSTAFF", "UCOORD")
    assert reply["text"].startswith("Surveys")


async def test_a_channel_audience_is_read_page_by_page_and_invited(
    bot: Runtime, events, slack_api: SlackWebApi
) -> None:
    await survey_command(events, slack_api, "start home-care for #CCLIENTS")
    await settle(bot)
    assert len(slack_api.made("conversations.members")) == 2  # two pages
    assert sorted(p["users"] for p in slack_api.made("conversations.open")) == [
        "UANN",
        "UBEN",
        "UCAT",
    ]
    for member in ("DUANN", "DUBEN", "DUCAT"):
        assert posted_to(slack_api, member)[-1]["text"].startswith("Home care feedback")
    assert "invited 3" in slack_api.made("response_url")[-1]["text"]


async def ann_answers_the_library_survey(
    events, slack_api: SlackWebApi, *, comment: str = "Fine"
) -> None:
    """A coordinator opens the library survey to everyone and Ann answers it through."""
    await survey_command(events, slack_api, "start library for everyone")
    for number, text in enumerate(["library", "yes", "1", "1", "5", comment, "skip"]):
        await say(events, "UANN", text, f"Ev{number}")


async def test_a_digest_with_mention_attempts_is_posted_harmlessly(
    bot: Runtime, events, slack_api: SlackWebApi
) -> None:
    attack = "<!channel> <!here> <@U999> <!subteam^S1> <https://evil.example|your bank> & more"
    await ann_answers_the_library_survey(events, slack_api, comment=attack)
    await survey_command(events, slack_api, "digest 1")
    await settle(bot)
    digest = posted_to(slack_api, "CSTAFF")[-1]
    for raw in ("<!channel>", "<!here>", "<@U999>", "<!subteam^S1>", "<https://"):
        assert raw not in digest["text"]
    assert "&lt;!channel&gt;" in digest["text"]
    assert "&amp; more" in digest["text"]
    assert {b["text"]["type"] for b in digest["blocks"] if b["type"] == "section"} == {"plain_text"}
    assert "link_names" not in digest
    assert digest.get("parse") != "full"


async def test_rate_limited_posts_are_retried_after_retry_after(
    bot: Runtime, events, slack_api: SlackWebApi, tmp_path: Path
) -> None:
    limited = {"ok": False, "error": "ratelimited"}
    slack_api.fail["chat.postMessage"] = [(429, limited, {"Retry-After": "1"})]
    await say(events, "UANN", "library", "Ev1")
    await settle(bot)
    attempts = posted_to(slack_api, "DUANN")
    assert len(attempts) == 2  # refused once, then sent
    await bot.outbox.settle()
    with sqlite3.connect(tmp_path / "civicbot.db") as connection:
        assert connection.execute("SELECT count(*) FROM outbox").fetchone() == (0,)


async def test_a_missing_channel_keeps_the_digest_in_the_outbox(
    bot: Runtime, events, slack_api: SlackWebApi, tmp_path: Path
) -> None:
    await survey_command(events, slack_api, "start library for everyone", channel="CGONE")
    await settle(bot)
    slack_api.fail["chat.postMessage"] = [(200, {"ok": False, "error": "channel_not_found"}, {})]
    await survey_command(events, slack_api, "digest 1", channel="CGONE")
    await settle(bot)
    await bot.outbox.settle()
    with sqlite3.connect(tmp_path / "civicbot.db") as connection:
        kept = connection.execute("SELECT conversation_id FROM outbox").fetchall()
    assert kept == [("CGONE",)]


@pytest.fixture
async def socket_bot(
    tmp_path: Path, survey_folder: Path, slack_api: SlackWebApi
) -> AsyncIterator[Runtime]:
    async with slack_bot(tmp_path, survey_folder, slack_api, app_token=APP_TOKEN) as runtime:
        await asyncio.wait_for(slack_api.connected.wait(), 10)
        yield runtime


async def test_socket_mode_answers_events_and_acknowledges_them(
    socket_bot: Runtime, slack_api: SlackWebApi, tmp_path: Path
) -> None:
    for number, text in enumerate(["library", "yes", "2"]):
        event = json.loads(message_event("UANN", text, f"Ev{number}"))
        await slack_api.send_envelope("events_api", event, f"env-{number}")
        await slack_api.acknowledged(f"env-{number}")
    retried = json.loads(message_event("UANN", "2", "Ev2"))
    await slack_api.send_envelope("events_api", retried, "env-2-retry", retry_attempt=1)
    await slack_api.acknowledged("env-2-retry")
    await socket_bot.adapters[0].settled()
    assert answers(tmp_path) == {"visits": "monthly"}
    assert len(posted_to(slack_api, "DUANN")) == 3


async def test_socket_mode_reconnects_after_a_disconnect(
    socket_bot: Runtime, slack_api: SlackWebApi
) -> None:
    await slack_api.disconnect()
    await asyncio.wait_for(slack_api.connected.wait(), 20)
    assert len(slack_api.made("apps.connections.open")) >= 2
    event = json.loads(message_event("UANN", "library", "Ev9"))
    await slack_api.send_envelope("events_api", event, "env-9")
    await slack_api.acknowledged("env-9")
    await socket_bot.adapters[0].settled()
    assert posted_to(slack_api, "DUANN")[-1]["text"].startswith("City library feedback")


async def test_an_export_is_uploaded_to_the_staff_channel(
    bot: Runtime, events, slack_api: SlackWebApi
) -> None:
    await ann_answers_the_library_survey(events, slack_api)
    await survey_command(events, slack_api, "export 1")
    await settle(bot)
    completed = slack_api.made("files.completeUploadExternal")[-1]
    assert completed["channel_id"] == "CSTAFF"
    (data,) = slack_api.uploads.values()
    assert data.decode().splitlines()[0].startswith("response,status,completed_at,visits")


async def a_digest_of_anns_answers(bot: Runtime, events, slack_api: SlackWebApi) -> None:
    await ann_answers_the_library_survey(events, slack_api)
    await survey_command(events, slack_api, "digest 1")
    await settle(bot)


async def test_a_digest_uploads_the_chart_and_csv_its_survey_asks_for(
    bot: Runtime, events, slack_api: SlackWebApi
) -> None:
    await a_digest_of_anns_answers(bot, events, slack_api)
    assert posted_to(slack_api, "CSTAFF")[-1]["text"].startswith("Digest: City library feedback")
    completed = slack_api.made("files.completeUploadExternal")
    assert [c["channel_id"] for c in completed] == ["CSTAFF", "CSTAFF"]
    chart, table = slack_api.uploads.values()
    assert chart.startswith(b"\x89PNG")
    assert table.decode().startswith("response,status,completed_at,visits")


async def test_a_digest_chart_has_alt_text_for_screen_readers(
    bot: Runtime, events, slack_api: SlackWebApi
) -> None:
    await a_digest_of_anns_answers(bot, events, slack_api)
    chart, table = slack_api.made("files.getUploadURLExternal")
    assert chart["alt_txt"].startswith("Bar charts of run 1 of City library feedback")
    assert "How often do you visit the library? Most answered" in chart["alt_txt"]
    assert chart["alt_txt"].endswith("Every count is in the digest message above.")
    assert "alt_txt" not in table


async def test_a_long_digest_is_split_under_slacks_limits(
    bot: Runtime, slack_api: SlackWebApi
) -> None:
    from adapters.slack import MESSAGE_LIMIT
    from adapters.slack_blocks import BLOCK_LIMIT
    from bot.events import Outbound
    from conversations.outgoing import Message

    long_text = "\n".join(f"line {n}: " + "x" * 90 for n in range(400))  # ~40,000 characters
    await bot.adapters[0].send(Outbound("slack", "CSTAFF", Message(long_text)))
    posts = posted_to(slack_api, "CSTAFF")
    assert len(posts) == 4
    assert all(len(p["text"]) <= MESSAGE_LIMIT for p in posts)
    assert all(len(p["blocks"]) <= BLOCK_LIMIT for p in posts)
    assert all(len(b["text"]["text"]) <= 3000 for p in posts for b in p["blocks"])
    rebuilt = "\n".join(b["text"]["text"] for p in posts for b in p["blocks"])
    assert rebuilt == long_text


async def test_a_large_invite_wave_reports_progress_and_loses_no_invite_under_rate_limits(
    bot: Runtime, events, slack_api: SlackWebApi
) -> None:
    people = [f"UP{n:04d}" for n in range(1000)]
    slack_api.channels["CWAVE"] = people
    limited = (429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "0"})
    slack_api.fail["conversations.open"] = [limited, limited]
    slack_api.fail["chat.postMessage"] = [limited, limited, limited]
    await survey_command(events, slack_api, "start home-care for #CWAVE")
    await settle(bot)
    # the first five answers use the command's response_url, the rest chat.postEphemeral
    told = [
        c.params["text"]
        for c in slack_api.calls
        if c.method in ("response_url", "chat.postEphemeral")
    ]
    assert len(slack_api.made("response_url")) == 5
    assert told[:-1] == [f"Run 1: invited {n:,} of 1,000…" for n in range(100, 1000, 100)]
    assert "invited 1000" in told[-1]
    invited = {p["channel"] for p in slack_api.made("chat.postMessage") if p["channel"] != "CSTAFF"}
    assert invited == {f"D{person}" for person in people}


async def test_a_command_answer_falls_back_to_an_ephemeral_post_when_the_response_url_fails(
    bot: Runtime, events, slack_api: SlackWebApi
) -> None:
    slack_api.fail["response_url"] = [(404, {"ok": False, "error": "expired_url"}, {})]
    await survey_command(events, slack_api, "list")
    await settle(bot)
    reply = slack_api.made("chat.postEphemeral")[-1]
    assert (reply["channel"], reply["user"]) == ("CSTAFF", "UCOORD")


def test_posts_into_one_channel_are_paced_after_a_short_burst() -> None:
    clock = Clock(0.0)
    slots = PostSlots(clock=clock)
    assert [slots.take("CBUSY") for _ in range(6)] == [0, 0, 0, 0, 1.0, 2.0]
    assert slots.take("COTHER") == 0  # another channel has its own slots
    clock.now = 10.0
    assert slots.take("CBUSY") == 0  # a quiet channel has its burst back


def test_a_command_is_answered_through_its_response_url_five_times_within_half_an_hour() -> None:
    clock = Clock(0.0)
    urls = ResponseUrls(clock=clock)
    urls.remember("CSTAFF", "UCOORD", "https://hooks/1")
    assert [urls.take("CSTAFF", "UCOORD") for _ in range(6)] == [*["https://hooks/1"] * 5, None]
    urls.remember("CSTAFF", "UCOORD", "https://hooks/2")
    clock.now = 30 * 60.0
    assert urls.take("CSTAFF", "UCOORD") is None  # expired
