"""Matrix room events as core events, and messages held for their keys: plain nio event
dicts in, no homeserver."""

from __future__ import annotations

import json

from conftest import Clock
from nio import Event, MegolmEvent

from adapters.matrix_events import HeldEvents, inbound_of, sent_before, text_contents
from conversations.outgoing import Choice, Message

BOT = "@civicbot:example.org"


def text_event(body: str, *, sender: str = "@ann:example.org", msgtype: str = "m.text") -> Event:
    return Event.parse_event(
        {
            "type": "m.room.message",
            "event_id": f"$e-{abs(hash(body))}",
            "sender": sender,
            "origin_server_ts": 1_700_000_000_000,
            "content": {"msgtype": msgtype, "body": body},
        }
    )


def encrypted_event(event_id: str) -> MegolmEvent:
    return Event.parse_encrypted_event(
        {
            "type": "m.room.encrypted",
            "event_id": event_id,
            "sender": "@ann:example.org",
            "origin_server_ts": 1_700_000_000_000,
            "content": {
                "algorithm": "m.megolm.v1.aes-sha2",
                "ciphertext": "AwgA",
                "device_id": "ANNPHONE",
                "sender_key": "key",
                "session_id": "session",
            },
        }
    )


def test_a_message_in_a_direct_room_is_an_answer() -> None:
    inbound = inbound_of(text_event("weekly"), room_id="!dm", direct=True, own_user=BOT)
    assert (inbound.text, inbound.is_direct, inbound.command) == ("weekly", True, False)
    assert (inbound.user_id, inbound.conversation_id, inbound.timestamp) == (
        "@ann:example.org",
        "!dm",
        1_700_000_000.0,
    )


def test_a_survey_command_in_a_group_room_is_a_command_and_chatter_is_nothing() -> None:
    command = inbound_of(text_event("!Survey list"), room_id="!staff", direct=False, own_user=BOT)
    assert (command.text, command.command, command.is_direct) == ("list", True, False)
    chatter = inbound_of(text_event("lunch?"), room_id="!staff", direct=False, own_user=BOT)
    assert chatter is None


def test_the_bots_own_messages_and_other_bots_notices_are_not_read() -> None:
    own = text_event("Thank you!", sender=BOT)
    notice = text_event("Build passed", msgtype="m.notice")
    assert inbound_of(own, room_id="!dm", direct=True, own_user=BOT) is None
    assert inbound_of(notice, room_id="!dm", direct=True, own_user=BOT) is None


def test_a_message_that_could_not_be_read_says_so_with_no_text() -> None:
    unread = encrypted_event("$secret")
    inbound = inbound_of(unread, room_id="!dm", direct=True, own_user=BOT, unreadable=True)
    assert (inbound.text, inbound.unreadable, inbound.event_id) == ("", "encrypted", "$secret")


def test_events_from_before_the_bot_joined_are_skipped() -> None:
    event = text_event("old")
    assert sent_before(event, joined_at=1_700_000_010.0)
    assert not sent_before(event, joined_at=1_700_000_000.5)  # a second's leeway
    assert not sent_before(event, joined_at=None)


def test_a_message_is_numbered_escaped_and_pings_nobody() -> None:
    message = Message("<b>@room</b> pick", (Choice("Yes", "q=yes"), Choice("No", "q=no")))
    (content,) = text_contents(message, notice=False)
    assert content["body"] == "<b>@room</b> pick\n1. Yes\n2. No"
    assert content["formatted_body"] == "&lt;b&gt;@room&lt;/b&gt; pick<br>1. Yes<br>2. No"
    assert content["m.mentions"] == {}
    assert text_contents(message, notice=True)[0]["msgtype"] == "m.notice"


def test_a_long_digest_is_split_at_line_ends_into_events_under_the_size_limit() -> None:
    text = "\n".join(f"line {n}: " + "x" * 90 for n in range(600))  # ~60,000 characters
    parts = text_contents(Message(text), notice=True)
    assert len(parts) > 1
    assert "".join(p["body"] for p in parts) == text
    assert all(p["body"].endswith("\n") for p in parts[:-1])  # cut after a line


def test_a_reply_full_of_emoji_fits_an_encrypted_event() -> None:
    text = "Kiitos 😀 <3 & " * 6_000  # emoji take 12 bytes as JSON, < and & more as HTML
    parts = text_contents(Message(text), notice=False)
    assert "".join(p["body"] for p in parts) == text
    for part in parts:
        encrypted = len(json.dumps(part)) * 4 / 3 + 1_000  # base64 and the envelope
        assert encrypted < 65_536


def test_a_message_waits_for_its_key_and_holds_the_rest_of_its_room_behind_it() -> None:
    clock = Clock(0.0)
    held = HeldEvents(wait=60.0, clock=clock)
    locked, after = encrypted_event("$locked"), text_event("later")
    assert held.unreadable("$locked")  # the first time: ask for its key
    assert not held.unreadable("$locked")
    held.hold("!dm", [locked, after])
    assert held.checkpoint(since="s1", next_batch="s2") == "s1"  # resume before it
    assert held.checkpoint(since="s2", next_batch="s3") == "s1"
    assert held.before("!dm", [text_event("newest")])[:2] == [locked, after]
    assert (held.rooms(), held.count()) == ({"!dm"}, 2)
    clock.now = 59.0
    assert held.still_waiting("$locked")
    clock.now = 60.0
    assert not held.still_waiting("$locked")  # handled as unreadable from now on
    held.handled("$locked")
    held.release("!dm")
    assert held.checkpoint(since="s3", next_batch="s4") == "s4"
