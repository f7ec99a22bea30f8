"""What a person's edits and deletions of Slack messages do, and interactions civicbot
never offers: each acknowledged, nothing stored twice, no answer changed behind the
person's back."""

from __future__ import annotations

import pytest
from slack_harness import answers, posted_to, settle
from slack_stub import (
    SlackWebApi,
    delete_event,
    edit_event,
    interaction,
    message_event,
    post,
)

from bot.app import Runtime


async def tell(events, body: str) -> None:
    session, url = events
    assert (await post(session, url, body)).status == 200


async def at_the_visits_question(events) -> None:
    await tell(events, message_event("UANN", "library", "Ev1"))
    await tell(events, message_event("UANN", "yes", "Ev2"))


async def test_an_edit_of_an_answer_the_question_did_not_take_is_taken_as_the_answer(
    slack_bot: Runtime, events, slack_api: SlackWebApi, tmp_path
) -> None:
    await at_the_visits_question(events)
    typo = message_event("UANN", "wekly", "Ev3")
    await tell(events, typo)
    await tell(events, edit_event(typo, "1", "Ev4"))
    await settle(slack_bot)
    assert answers(tmp_path) == {"visits": "weekly"}
    assert posted_to(slack_api, "DUANN")[-1]["text"].startswith("Which services have you used")


async def test_an_edit_of_an_answer_already_taken_keeps_it_and_says_how_to_change_it(
    slack_bot: Runtime, events, slack_api: SlackWebApi, tmp_path
) -> None:
    await at_the_visits_question(events)
    weekly = message_event("UANN", "1", "Ev3")
    await tell(events, weekly)
    await tell(events, edit_event(weekly, "2", "Ev4"))
    await tell(events, edit_event(weekly, "2", "Ev4"))  # Slack's retry changes nothing
    await settle(slack_bot)
    assert answers(tmp_path) == {"visits": "weekly"}
    said = [p["text"] for p in posted_to(slack_api, "DUANN")]
    assert said[-1] == "I kept your first answer. To change it, type back."
    assert said[-2].startswith("Which services have you used")
    assert said.count(said[-1]) == 1


async def test_a_deleted_message_is_acknowledged_and_its_answer_stays(
    slack_bot: Runtime, events, slack_api: SlackWebApi, tmp_path
) -> None:
    await at_the_visits_question(events)
    weekly = message_event("UANN", "1", "Ev3")
    await tell(events, weekly)
    await settle(slack_bot)
    before = len(posted_to(slack_api, "DUANN"))
    await tell(events, delete_event(weekly, "Ev4"))
    await settle(slack_bot)
    assert answers(tmp_path) == {"visits": "weekly"}
    assert len(posted_to(slack_api, "DUANN")) == before


@pytest.mark.parametrize(
    "payload",
    [
        interaction("shortcut", callback_id="make_report"),
        interaction("message_action", callback_id="report", channel={"id": "DUANN"}),
        interaction(
            "view_submission",
            view={"id": "V1", "type": "modal", "callback_id": "form", "state": {}},
        ),
        interaction("view_closed", view={"id": "V1", "type": "modal", "callback_id": "form"}),
        interaction(
            "block_actions",
            container={"type": "message", "message_ts": "1.2", "channel_id": "DUANN"},
            channel={"id": "DUANN"},
            actions=[{"type": "button", "action_id": "from-an-old-version", "value": "x"}],
        ),
    ],
    ids=["global-shortcut", "message-shortcut", "modal-submitted", "modal-closed", "old-button"],
)
async def test_interactions_civicbot_never_offers_are_acknowledged_and_ignored(
    slack_bot: Runtime, events, slack_api: SlackWebApi, tmp_path, payload: str
) -> None:
    session, url = events
    response = await post(session, url, payload, form=True)
    assert response.status == 200
    await settle(slack_bot)
    assert answers(tmp_path) == {}
    assert posted_to(slack_api, "DUANN") == []


async def test_in_socket_mode_an_interaction_civicbot_never_offers_is_acknowledged(
    socket_bot: Runtime, slack_api: SlackWebApi
) -> None:
    shortcut = {"type": "shortcut", "callback_id": "make_report", "trigger_id": "t"}
    shortcut.update(team={"id": "T0001"}, user={"id": "UANN", "team_id": "T0001"})
    await slack_api.send_envelope("interactive", shortcut, "env-shortcut")
    await slack_api.acknowledged("env-shortcut")
