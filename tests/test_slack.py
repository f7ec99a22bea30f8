"""Slack through slack-bolt, as citizens use it: signed requests in, Slack's Web API (a
loopback stand-in) out; Socket Mode; pacing."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from pathlib import Path

import pytest
from conftest import Clock
from slack_harness import answers, as_shown, at_the_services_question, posted_to, say, settle
from slack_stub import (
    SlackWebApi,
    click,
    message_event,
    post,
    send_choices,
    signed,
)
from writer_faults import killed_holding

from adapters.slack_pacing import PostSlots
from bot.app import Runtime


async def test_a_citizen_completes_a_survey_by_typing(
    slack_bot: Runtime, events, slack_api: SlackWebApi, tmp_path: Path
) -> None:
    for number, text in enumerate(["library", "yes", "1", "1, 2", "4", "More hours", "skip"]):
        await say(events, "UANN", text, f"Ev{number}")
    await settle(slack_bot)
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
    slack_bot: Runtime, events, slack_api: SlackWebApi, tmp_path: Path
) -> None:
    session, url = events
    await say(events, "UANN", "library", "Ev1")
    await settle(slack_bot)
    question = posted_to(slack_api, "DUANN")[-1]
    buttons = question["blocks"][-1]["elements"]
    assert [b["text"]["text"] for b in buttons] == ["1. Yes", "2. No"]
    message = {"ts": "1700000001.000100", "text": question["text"], "blocks": question["blocks"]}
    body = click("UANN", message, buttons[0])
    response = await post(session, url, body, form=True)
    assert response.status == 200
    await settle(slack_bot)
    update = slack_api.made("chat.update")[-1]
    assert update["ts"] == "1700000001.000100"
    assert update["blocks"][-1]["elements"][0]["text"] == "✓ 1. Yes"
    assert all(b["type"] != "actions" for b in update["blocks"])
    assert "How often do you visit the library?" in posted_to(slack_api, "DUANN")[-1]["text"]


async def test_multiple_choice_is_answered_with_checkboxes_and_a_send_button(
    slack_bot: Runtime, events, slack_api: SlackWebApi, tmp_path: Path
) -> None:
    session, url = events
    question = await at_the_services_question(slack_bot, events, slack_api)
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
    await settle(slack_bot)
    shown = slack_api.made("chat.update")[-1]["blocks"][-1]["elements"][0]["text"]
    assert shown == "✓ 1. Borrowing books, 3. Events and courses"
    assert answers(tmp_path)["services"] == ["loans", "events"]


async def test_sending_no_ticked_boxes_asks_the_question_again(
    slack_bot: Runtime, events, slack_api: SlackWebApi, tmp_path: Path
) -> None:
    session, url = events
    question = await at_the_services_question(slack_bot, events, slack_api)
    body = send_choices("UANN", as_shown(question), [])
    assert (await post(session, url, body, form=True)).status == 200
    await settle(slack_bot)
    again = posted_to(slack_api, "DUANN")[-1]["text"]
    assert again.startswith("Please choose from 1 to 5 options.")
    assert "Which services have you used this year?" in again
    assert slack_api.made("chat.update") == []  # the boxes stay, to be ticked
    assert "services" not in answers(tmp_path)


async def test_the_slack_language_picks_the_survey_language(
    slack_bot: Runtime, events, slack_api: SlackWebApi
) -> None:
    await say(events, "UFI", "library", "Ev1")
    await settle(slack_bot)
    assert posted_to(slack_api, "DUFI")[-1]["text"].startswith("Kaupunginkirjaston palautekysely")


async def test_retries_and_duplicates_count_once(
    slack_bot: Runtime, events, slack_api: SlackWebApi, tmp_path: Path
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
    await settle(slack_bot)
    assert answers(tmp_path) == {"visits": "monthly"}
    assert len(posted_to(slack_api, "DUANN")) == 3


@pytest.mark.parametrize(
    "headers",
    [
        signed("{}", secret="wrong-secret"),
        signed("{}", at=int(time.time()) - 60 * 10),
        {"X-Slack-Request-Timestamp": "not-a-number", "X-Slack-Signature": "v0=00"},
        {"X-Slack-Request-Timestamp": "²", "X-Slack-Signature": "v0=00"},
        {},
    ],
    ids=["forged", "stale", "non-numeric-timestamp", "superscript-timestamp", "missing-headers"],
)
async def test_forged_and_stale_requests_are_refused_and_store_nothing(
    slack_bot: Runtime, events, headers: dict[str, str], tmp_path: Path
) -> None:
    session, url = events
    body = message_event("UANN", "library", "Ev1")
    response = await post(session, url, body, headers=headers)
    assert response.status == 401
    await settle(slack_bot)
    with sqlite3.connect(tmp_path / "civicbot.db") as connection:
        assert connection.execute("SELECT count(*) FROM processed_events").fetchone() == (0,)


async def test_events_civicbot_ignores_are_still_acknowledged(slack_bot: Runtime, events) -> None:
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
    await settle(socket_bot)
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
    await settle(socket_bot)
    assert posted_to(slack_api, "DUANN")[-1]["text"].startswith("City library feedback")


def test_posts_into_one_channel_are_paced_after_a_short_burst() -> None:
    clock = Clock(0.0)
    slots = PostSlots(clock=clock)
    assert [slots.take("CBUSY") for _ in range(6)] == [0, 0, 0, 0, 1.0, 2.0]
    assert slots.take("COTHER") == 0  # another channel has its own slots
    clock.now = 10.0
    assert slots.take("CBUSY") == 0  # a quiet channel has its burst back


async def test_an_event_whose_turn_could_not_be_stored_is_not_acknowledged(
    slack_bot: Runtime, events, slack_api: SlackWebApi, tmp_path: Path
) -> None:
    session, url = events
    body = message_event("UANN", "library", "Ev1")
    async with killed_holding(slack_bot.store.writer, 1):
        sending = asyncio.ensure_future(post(session, url, body))
    refused = await sending
    assert refused.status != 200  # so Slack delivers it again
    again = await post(session, url, body, headers={**signed(body), "X-Slack-Retry-Num": "1"})
    assert again.status == 200
    await settle(slack_bot)
    assert posted_to(slack_api, "DUANN")[0]["text"].startswith("City library feedback")


async def test_a_rate_limited_language_lookup_does_not_hold_up_the_answer(
    slack_bot: Runtime, events, slack_api: SlackWebApi
) -> None:
    limited = (429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "20"})
    slack_api.fail["users.info"] = [limited]
    async with asyncio.timeout(5):  # far less than the 20 s Slack asked to wait
        await say(events, "UFI", "library", "Ev1")
        await settle(slack_bot)
    assert posted_to(slack_api, "DUFI")[0]["text"].startswith("City library feedback")


async def test_answers_sent_while_a_reply_waits_out_a_rate_limit_are_stored_before_slack_is_told(
    slack_bot: Runtime, events, slack_api: SlackWebApi, tmp_path: Path
) -> None:
    limited = (429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "4"})
    slack_api.fail["chat.postMessage"] = [limited]  # the first reply waits 4 s
    async with asyncio.timeout(2):  # each ack comes at once, not after Slack's 3 s
        for number, text in enumerate(["library", "yes", "1"]):
            await say(events, "UANN", text, f"Ev{number}")
    # acknowledged, so committed: a SIGKILL now would keep it
    assert answers(tmp_path) == {"visits": "weekly"}
    await settle(slack_bot)
    sent = [p["text"] for p in posted_to(slack_api, "DUANN")]
    assert sent[0].startswith("City library feedback")  # the rate-limited reply, tried again
    assert sent[-1].startswith("Which services have you used")  # the replies kept their order


async def test_a_turn_not_stored_in_time_is_not_acknowledged_and_slacks_retry_is_answered_once(
    slack_bot: Runtime, events, slack_api: SlackWebApi, tmp_path: Path
) -> None:
    session, url = events
    body = message_event("UANN", "library", "Ev1")
    holder = sqlite3.connect(tmp_path / "civicbot.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process holds the database
    try:
        refused = await post(session, url, body)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert refused.status != 200  # so Slack delivers it again
    again = await post(session, url, body, headers={**signed(body), "X-Slack-Retry-Num": "1"})
    assert again.status == 200
    await settle(slack_bot)
    assert len(posted_to(slack_api, "DUANN")) == 1
