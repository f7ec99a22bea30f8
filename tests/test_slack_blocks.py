"""Block Kit rendering, as plain data: a message in, Slack's blocks out."""

from __future__ import annotations

from adapters.slack_blocks import BLOCK_LIMIT, SEND_CHOICES, blocks_for, chunks, escape
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
