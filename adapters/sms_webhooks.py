"""Twilio's webhooks, read: an incoming text becomes an Inbound, a status callback a
delivery report. Pure functions of the form Twilio posts (form-encoded, signed).

Carrier keywords are recognised as carriers do: the whole message is the keyword,
in any case, with nothing else but spaces and a full stop or exclamation mark. They
are Twilio's English ones and their Finnish and Swedish counterparts; YES, which
Twilio also takes as START, is left out here because it answers consent questions.
"""

from __future__ import annotations

from collections.abc import Mapping

from bot.events import CarrierKeyword, DeliveryReport, Inbound

PLATFORM = "sms"
KEYWORDS: dict[str, CarrierKeyword] = {
    **dict.fromkeys(
        ("stop", "stopall", "unsubscribe", "cancel", "end", "quit", "stopp", "lopeta"), "opt_out"
    ),
    **dict.fromkeys(("start", "unstop", "aloita"), "opt_in"),
    **dict.fromkeys(("help", "info", "apua", "hjälp"), "help"),
}


def keyword_of(body: str) -> CarrierKeyword | None:
    return KEYWORDS.get(body.strip().rstrip(".!").strip().casefold())


def inbound_of(form: Mapping[str, str], *, now: float) -> Inbound:
    """An incoming text (or MMS) as an Inbound: the sender's number is both the person
    and the conversation, the MessageSid the event id that makes a replay change nothing."""
    body = form.get("Body", "")
    media = _count(form.get("NumMedia"))
    number = form["From"]
    return Inbound(
        platform=PLATFORM,
        user_id=number,
        conversation_id=number,
        is_direct=True,
        text=body,
        event_id=form["MessageSid"],
        timestamp=now,
        unreadable="media" if media and not body.strip() else None,
        keyword=keyword_of(body),
    )


def report_of(form: Mapping[str, str]) -> DeliveryReport | None:
    """A status callback's report; None when it lacks what a report needs."""
    sid, status = form.get("MessageSid") or form.get("SmsSid"), form.get("MessageStatus")
    if not sid or not status:
        return None
    code = form.get("ErrorCode")
    error = int(code) if code and code.isascii() and code.isdigit() else None
    return DeliveryReport(PLATFORM, sid, status, error)


def _count(value: str | None) -> int:
    return int(value) if value and value.isascii() and value.isdigit() else 0
