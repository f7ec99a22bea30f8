"""Slack's payloads as plain data: a message in, Slack's blocks out; Slack's events in,
core events out."""

from __future__ import annotations

from adapters.slack_blocks import (
    BLOCK_LIMIT,
    SEND_CHOICES,
    answered,
    blocks_for,
    chunks,
    escape,
    ticked_options,
)
from adapters.slack_events import is_answer, mention_inbound
from conversations.outgoing import Choice, Message

VISITS = Message(
    "How often do you visit?",
    (Choice("Every week", "visits=weekly"), Choice("Rarely", "visits=rare")),
)


def test_single_choices_are_numbered_in_the_text_and_offered_as_buttons() -> None:
    section, actions = blocks_for(VISITS)
    assert section["text"] == {
        "type": "plain_text",
        "text": "How often do you visit?\n1. Every week\n2. Rarely",
        "emoji": True,
    }
    assert [(b["text"]["text"], b["value"]) for b in actions["elements"]] == [
        ("1. Every week", "visits=weekly"),
        ("2. Rarely", "visits=rare"),
    ]


def test_multiple_choice_is_checkboxes_in_tens_and_a_send_button_naming_the_question() -> None:
    options = tuple(Choice(f"Service {n}", f"s{n}") for n in range(12))
    message = Message("Which?", options, multiple=True, send_label="Send", question="services")
    blocks = blocks_for(message)
    groups = [b for b in blocks if b.get("block_id", "").startswith("pick-")]
    assert [len(g["elements"][0]["options"]) for g in groups] == [10, 2]
    assert groups[1]["elements"][0]["options"][0]["value"] == "s10"
    send = blocks[-1]["elements"][0]
    assert (send["action_id"], send["value"], send["text"]["text"]) == (
        SEND_CHOICES,
        "services",
        "Send",
    )


def test_a_long_label_is_shortened_to_fit_a_button() -> None:
    message = Message("Pick", (Choice("x" * 100, "q=a"), Choice("y", "q=b")), numbered=False)
    label = blocks_for(message)[1]["elements"][0]["text"]["text"]
    assert len(label) == 75
    assert label.endswith("…")


def test_a_huge_message_stays_within_slacks_block_limit() -> None:
    assert len(blocks_for(Message("line\n" * 40_000))) == BLOCK_LIMIT


def test_text_is_split_at_line_ends_where_it_can_be() -> None:
    assert chunks("aaa\nbbb\nccc", 8) == ["aaa\nbbb", "ccc"]
    assert chunks("x" * 10, 4) == ["xxxx", "xxxx", "xx"]


def test_mentions_and_links_stay_text_in_notifications() -> None:
    assert escape("<!channel> & <http://evil|click>") == (
        "&lt;!channel&gt; &amp; &lt;http://evil|click&gt;"
    )


def test_an_answered_question_shows_the_choice_instead_of_its_buttons() -> None:
    shown = answered(blocks_for(VISITS), "Every week")
    assert [b["type"] for b in shown] == ["section", "context"]
    assert shown[-1]["elements"][0]["text"] == "✓ Every week"


def test_the_ticked_boxes_of_every_group_are_read_from_the_state() -> None:
    def group(*values: str) -> dict:
        picked = [{"text": {"type": "plain_text", "text": v}, "value": v} for v in values]
        return {"pick": {"type": "checkboxes", "selected_options": picked}}

    state = {"values": {"pick-0": group("s1", "s3"), "pick-10": group("s11"), "x": {}}}
    assert [o["value"] for o in ticked_options(state)] == ["s1", "s3", "s11"]


def test_only_a_persons_own_direct_messages_are_answers() -> None:
    said = {"type": "message", "channel_type": "im", "user": "UANN", "text": "hi"}
    assert is_answer(said)
    assert not is_answer({**said, "subtype": "message_changed"})  # an edit
    assert not is_answer({**said, "bot_id": "BBOT"})  # a bot, civicbot among them
    assert not is_answer({**said, "channel_type": "channel"})  # chatter in a channel


def test_a_mention_is_a_command_without_the_mention() -> None:
    event = {"user": "UCOORD", "channel": "CSTAFF", "text": "<@UBOT|civicbot> survey list"}
    command = mention_inbound({"event_id": "Ev1", "team_id": "T1"}, {**event, "ts": "1.5"})
    assert (command.text, command.command, command.is_direct) == ("survey list", True, False)
    assert (command.workspace, command.event_id, command.timestamp) == ("T1", "Ev1", 1.5)
