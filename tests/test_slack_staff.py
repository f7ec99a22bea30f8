"""Slack through slack-bolt, as coordinators use it: commands, invitations, digests,
exports and their files, and what Slack's limits do to them."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from conftest import Clock
from slack_harness import (
    a_digest_of_anns_answers,
    ann_answers_the_library_survey,
    posted_to,
    say,
    settle,
    survey_command,
)
from slack_stub import (
    SlackWebApi,
    mention_event,
    post,
    signed,
)

from adapters.slack_pacing import ResponseUrls
from bot.app import Runtime

pytestmark = pytest.mark.usefixtures("one_person_digests")


async def test_survey_command_answers_the_coordinator_privately(
    slack_bot: Runtime, events, slack_api: SlackWebApi
) -> None:
    await survey_command(events, slack_api, "start library for everyone")
    await settle(slack_bot)
    reply = slack_api.made("response_url")[-1]
    assert reply["response_type"] == "ephemeral"
    assert reply["text"].startswith("Run 1 of 'City library feedback' started for everyone")
    await survey_command(events, slack_api, "list", user="UMAL")
    await settle(slack_bot)
    assert slack_api.made("response_url")[-1]["text"].startswith("Sorry, survey commands")


async def test_a_coordinator_named_with_a_team_is_allowed_only_from_that_team(
    slack_bot: Runtime, events, slack_api: SlackWebApi
) -> None:
    await survey_command(events, slack_api, "list", user="UTEAM")
    await settle(slack_bot)
    await survey_command(events, slack_api, "list", user="UTEAM", team="T0666")
    await settle(slack_bot)
    first, second = (r["text"] for r in slack_api.made("response_url"))
    assert first.startswith("Surveys")
    assert second.startswith("Sorry, survey commands")


async def test_a_mention_in_a_channel_is_a_command_answered_privately(
    slack_bot: Runtime, events, slack_api: SlackWebApi
) -> None:
    session, url = events
    response = await post(session, url, mention_event("UCOORD", "CSTAFF", "survey list", "Ev9"))
    assert response.status == 200
    await settle(slack_bot)
    reply = slack_api.made("chat.postEphemeral")[-1]
    assert (reply["channel"], reply["user"]) == ("CSTAFF", "UCOORD")
    assert reply["text"].startswith("Surveys")


async def test_a_mention_slack_delivers_again_runs_its_command_once(
    slack_bot: Runtime, events, slack_api: SlackWebApi
) -> None:
    session, url = events
    await ann_answers_the_library_survey(events, slack_api)
    mention = mention_event("UCOORD", "CSTAFF", "survey digest 1", "Ev99")
    assert (await post(session, url, mention)).status == 200
    retried = {**signed(mention), "X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "timeout"}
    assert (await post(session, url, mention, headers=retried)).status == 200
    await settle(slack_bot)
    digests = [p for p in posted_to(slack_api, "CSTAFF") if p["text"].startswith("Digest:")]
    assert len(digests) == 1


async def test_a_channel_audience_is_read_page_by_page_and_invited(
    slack_bot: Runtime, events, slack_api: SlackWebApi
) -> None:
    await survey_command(events, slack_api, "start home-care for #CCLIENTS")
    await settle(slack_bot)
    assert len(slack_api.made("conversations.members")) == 2  # two pages
    assert sorted(p["users"] for p in slack_api.made("conversations.open")) == [
        "UANN",
        "UBEN",
        "UCAT",
    ]
    for member in ("DUANN", "DUBEN", "DUCAT"):
        assert posted_to(slack_api, member)[-1]["text"].startswith("Home care feedback")
    assert "invited 3" in slack_api.made("response_url")[-1]["text"]


async def test_a_digest_with_mention_attempts_is_posted_harmlessly(
    slack_bot: Runtime, events, slack_api: SlackWebApi
) -> None:
    attack = "<!channel> <!here> <@U999> <!subteam^S1> <https://evil.example|your bank> & more"
    await ann_answers_the_library_survey(events, slack_api, comment=attack)
    await survey_command(events, slack_api, "digest 1")
    await settle(slack_bot)
    digest = posted_to(slack_api, "CSTAFF")[-1]
    for raw in ("<!channel>", "<!here>", "<@U999>", "<!subteam^S1>", "<https://"):
        assert raw not in digest["text"]
    assert "&lt;!channel&gt;" in digest["text"]
    assert "&amp; more" in digest["text"]
    assert {b["text"]["type"] for b in digest["blocks"] if b["type"] == "section"} == {"plain_text"}
    assert "link_names" not in digest
    assert digest.get("parse") != "full"


async def test_rate_limited_posts_are_retried_after_retry_after(
    slack_bot: Runtime, events, slack_api: SlackWebApi, tmp_path: Path
) -> None:
    limited = {"ok": False, "error": "ratelimited"}
    slack_api.fail["chat.postMessage"] = [(429, limited, {"Retry-After": "1"})]
    await say(events, "UANN", "library", "Ev1")
    await settle(slack_bot)
    attempts = posted_to(slack_api, "DUANN")
    assert len(attempts) == 2  # refused once, then sent
    await slack_bot.outbox.settle()
    with sqlite3.connect(tmp_path / "civicbot.db") as connection:
        assert connection.execute("SELECT count(*) FROM outbox").fetchone() == (0,)


async def test_a_missing_channel_keeps_the_digest_in_the_outbox(
    slack_bot: Runtime, events, slack_api: SlackWebApi, tmp_path: Path
) -> None:
    await survey_command(events, slack_api, "start library for everyone", channel="CGONE")
    await settle(slack_bot)
    slack_api.fail["chat.postMessage"] = [(200, {"ok": False, "error": "channel_not_found"}, {})]
    await survey_command(events, slack_api, "digest 1", channel="CGONE")
    await settle(slack_bot)
    await slack_bot.outbox.settle()
    with sqlite3.connect(tmp_path / "civicbot.db") as connection:
        kept = connection.execute("SELECT conversation_id FROM outbox").fetchall()
    assert kept == [("CGONE",)]


async def test_an_export_is_uploaded_to_the_staff_channel(
    slack_bot: Runtime, events, slack_api: SlackWebApi
) -> None:
    await ann_answers_the_library_survey(events, slack_api)
    await survey_command(events, slack_api, "export 1")
    await settle(slack_bot)
    completed = slack_api.made("files.completeUploadExternal")[-1]
    assert completed["channel_id"] == "CSTAFF"
    (data,) = slack_api.uploads.values()
    assert (
        data.decode("utf-8-sig")
        .splitlines()[0]
        .startswith(
            "response,status,complete,completed_at,language,channel,given_by,reached_by,assisted_by,visits"
        )
    )


async def test_a_digest_uploads_the_chart_and_csv_its_survey_asks_for(
    slack_bot: Runtime, events, slack_api: SlackWebApi
) -> None:
    await a_digest_of_anns_answers(slack_bot, events, slack_api)
    headline, figures = posted_to(slack_api, "CSTAFF")[-2:]
    assert headline["text"].startswith("Digest: City library feedback")
    assert figures["text"].startswith("Full figures of run 1")
    assert "thread_ts" not in headline
    assert figures["thread_ts"]  # below the fold: a reply in the headline's thread
    completed = slack_api.made("files.completeUploadExternal")
    assert [c["channel_id"] for c in completed] == ["CSTAFF", "CSTAFF"]
    chart, table = slack_api.uploads.values()
    assert chart.startswith(b"\x89PNG")
    assert table.decode("utf-8-sig").startswith(
        "question_id,question,answered,skipped,kind,answer,count,percent"
    )


async def test_a_digest_chart_has_alt_text_for_screen_readers(
    slack_bot: Runtime, events, slack_api: SlackWebApi
) -> None:
    await a_digest_of_anns_answers(slack_bot, events, slack_api)
    chart, table = slack_api.made("files.getUploadURLExternal")
    assert chart["alt_txt"].startswith("Bar charts of run 1 of City library feedback")
    assert "How often do you visit the library? Most answered" in chart["alt_txt"]
    assert chart["alt_txt"].endswith("Every count is in the digest message above.")
    assert "alt_txt" not in table


async def test_a_long_digest_is_split_under_slacks_limits(
    slack_bot: Runtime, slack_api: SlackWebApi
) -> None:
    from adapters.slack_blocks import BLOCK_LIMIT
    from adapters.slack_posting import MESSAGE_LIMIT
    from bot.events import Outbound
    from conversations.outgoing import Message

    long_text = "\n".join(f"line {n}: " + "x" * 90 for n in range(400))  # ~40,000 characters
    await slack_bot.adapters[0].send(Outbound("slack", "CSTAFF", Message(long_text)))
    posts = posted_to(slack_api, "CSTAFF")
    assert len(posts) == 4
    assert all(len(p["text"]) <= MESSAGE_LIMIT for p in posts)
    assert all(len(p["blocks"]) <= BLOCK_LIMIT for p in posts)
    assert all(len(b["text"]["text"]) <= 3000 for p in posts for b in p["blocks"])
    rebuilt = "\n".join(b["text"]["text"] for p in posts for b in p["blocks"])
    assert rebuilt == long_text


async def test_a_large_invite_wave_loses_no_invite_under_rate_limits(
    slack_bot: Runtime, events, slack_api: SlackWebApi
) -> None:
    people = [f"UP{n:04d}" for n in range(1000)]
    slack_api.channels["CWAVE"] = people
    limited = (429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "0"})
    slack_api.fail["conversations.open"] = [limited, limited]
    slack_api.fail["chat.postMessage"] = [limited, limited, limited]
    await survey_command(events, slack_api, "start home-care for #CWAVE")
    await settle(slack_bot)
    held = slack_api.made("response_url")[-1]["text"]
    assert held.startswith("Held, nothing sent: this would message 1,000 people")
    await survey_command(events, slack_api, "approve 1", user="UTEAM")  # a second coordinator
    await settle(slack_bot)
    told = [
        c.params["text"]
        for c in slack_api.calls
        if c.method in ("response_url", "chat.postEphemeral") and c.params["text"] != held
    ]
    assert "invited 1000" in told[-1]
    invited = {p["channel"] for p in slack_api.made("chat.postMessage") if p["channel"] != "CSTAFF"}
    assert invited == {f"D{person}" for person in people}


async def test_a_command_answer_falls_back_to_an_ephemeral_post_when_the_response_url_fails(
    slack_bot: Runtime, events, slack_api: SlackWebApi
) -> None:
    slack_api.fail["response_url"] = [(404, {"ok": False, "error": "expired_url"}, {})]
    await survey_command(events, slack_api, "list")
    await settle(slack_bot)
    reply = slack_api.made("chat.postEphemeral")[-1]
    assert (reply["channel"], reply["user"]) == ("CSTAFF", "UCOORD")


def test_a_command_is_answered_through_its_response_url_five_times_within_half_an_hour() -> None:
    clock = Clock(0.0)
    urls = ResponseUrls(clock=clock)
    urls.remember("CSTAFF", "UCOORD", "https://hooks/1")
    assert [urls.take("CSTAFF", "UCOORD") for _ in range(6)] == [*["https://hooks/1"] * 5, None]
    urls.remember("CSTAFF", "UCOORD", "https://hooks/2")
    clock.now = 30 * 60.0
    assert urls.take("CSTAFF", "UCOORD") is None  # expired


def member(user_id: str, name: str, real_name: str, display_name: str = "") -> dict:
    """A member as users.list describes one."""
    profile = {"real_name": real_name, "display_name": display_name}
    return {"id": user_id, "name": name, "real_name": real_name, "profile": profile}


async def test_people_named_by_their_slack_names_or_mentions_are_invited(
    slack_bot: Runtime, events, slack_api: SlackWebApi
) -> None:
    slack_api.people = {
        "U0ANN0001": member("U0ANN0001", "ann", "Ann Smith", "Annie"),
        "U0BEN0001": member("U0BEN0001", "ben.jones", "Ben Jones"),
        "U0CAT0001": member("U0CAT0001", "cat", "Cat Lee"),
    }
    await survey_command(events, slack_api, "start home-care for @Annie <@U0BEN0001|ben.jones>")
    await settle(slack_bot)
    assert "invited 2" in slack_api.made("response_url")[-1]["text"]
    assert sorted(p["users"] for p in slack_api.made("conversations.open")) == [
        "U0ANN0001",
        "U0BEN0001",
    ]
    await survey_command(events, slack_api, "start library for @cat")
    await settle(slack_bot)
    assert len(slack_api.made("users.list")) == 2  # two pages, read once, then kept


async def test_a_name_that_matches_two_people_is_named_back_and_nobody_is_invited(
    slack_bot: Runtime, events, slack_api: SlackWebApi
) -> None:
    slack_api.people = {
        "U0SAM0001": member("U0SAM0001", "sam.a", "Sam Aho", "Sam"),
        "U0SAM0002": member("U0SAM0002", "sam.b", "Sam Berg", "Sam"),
    }
    await survey_command(events, slack_api, "start home-care for @sam @nobody")
    await settle(slack_bot)
    assert slack_api.made("response_url")[-1]["text"] == (
        "Not started: @sam could be any of 2 (Sam Aho U0SAM0001, Sam Berg U0SAM0002):"
        " name them by id or mention; nobody in this workspace is called @nobody."
    )
    assert slack_api.made("conversations.open") == []
    assert await slack_bot.store.runs() == []


async def test_a_channel_named_by_its_name_is_found(
    slack_bot: Runtime, events, slack_api: SlackWebApi
) -> None:
    slack_api.channels["C0CLIENTS1"] = ["UANN"]
    slack_api.channel_names["C0CLIENTS1"] = "home-care-clients"
    await survey_command(events, slack_api, "start home-care for #home-care-clients")
    await settle(slack_bot)
    assert "invited 1" in slack_api.made("response_url")[-1]["text"]
    await survey_command(events, slack_api, "start library for #no-such-channel")
    await settle(slack_bot)
    assert slack_api.made("response_url")[-1]["text"] == (
        "I cannot see the members of #no-such-channel: there is no channel #no-such-channel"
        " that civicbot can see"
    )
