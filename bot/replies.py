"""`survey reply REF TEXT`: staff answer the author of a quote without learning who it is.

The reference (bot/references.py) names an answer a digest quoted. The reply goes to
its author where they answered, in the outbox like every message, prefixed with the
start of what they wrote and which service answers, in their language. Staff are only
told that it was sent, or why it cannot be: the person did not agree to replies (a
survey's `may_reply`), the survey is anonymous, the person asked to be forgotten, the
run's answers are gone with its retention, or there is no longer a way to reach them.
A command delivered twice (a platform's retry) sends one reply; a reference takes at
most REPLIES_A_DAY replies a day, from whoever on the staff they come. A reply opens a
thread: what the person writes back reaches staff under the same reference
(bot/answer_back.py) until `survey reply REF close`.
"""

from __future__ import annotations

import math

from bot.core import Bot
from bot.events import Inbound
from bot.scheduler import Clock
from bot.survey_files import SurveyCatalogue
from conversations.messages import say
from conversations.questions.free_text import flat
from storage.contract import Storage
from storage.records import ReplyTarget

MAX_REPLY = 2_000  # characters: a reply is a message, not a letter
QUOTED = 80  # characters of the person's own words that the reply recalls
REPLIES_A_DAY = 3  # to one reference: a conversation, not a stream of messages at someone
DAY = 24 * 3600


class Replies:
    def __init__(self, *, bot: Bot, store: Storage, surveys: SurveyCatalogue, clock: Clock) -> None:
        self._bot = bot
        self._store = store
        self._surveys = surveys
        self._clock = clock

    async def reply(self, reference: str, text: str, inbound: Inbound) -> str:
        code = reference.strip("#").upper()
        text = text.strip()
        if text.lower() == "close":
            if await self._store.close_thread(code, now=self._clock()):
                return f"#{code} closed: what its author writes now is not passed on."
            return f"There is no open thread #{code} to close."
        if not text:
            return f"What should the reply to #{code} say? 'survey reply {code} TEXT'."
        if len(text) > MAX_REPLY:
            return f"A reply can be at most {MAX_REPLY:,} characters; this one is {len(text):,}."
        target = await self._store.reply_target(code)
        refused = _refusal(target, code, self._surveys) or self._too_many(target, code)
        if refused:
            return refused
        survey = self._surveys.surveys[target.survey_id]
        lang = target.language if target.language in survey.languages else survey.default_language
        wrote = flat(str(target.value))
        if len(wrote) > QUOTED:
            wrote = wrote[: QUOTED - 1].rstrip() + "…"
        heading = say(lang, "reply_from", service=survey.title_in(lang), wrote=wrote)
        sent = await self._bot.outreach.tell(
            pid=target.pid,
            platform=target.platform,
            conversation_id=target.conversation_id,
            text=f"{heading}\n\n{text}",
            event_key=f"reply:{inbound.platform}:{inbound.event_id}",
            thread=(code, target.run_id),
        )
        if not sent:
            return f"This reply to #{code} was sent already."
        return f"Sent to the author of #{code}. You will not be told who they are."

    def _too_many(self, target: ReplyTarget, code: str) -> str | None:
        since, now = target.replies_since, self._clock()
        if since is None or since <= now - DAY or target.replies < REPLIES_A_DAY:
            return None
        hours = math.ceil((since + DAY - now) / 3600)
        return (
            f"#{code} has had {target.replies} replies in a day, the most it may: the next "
            f"can go in {hours} hour{'s' if hours > 1 else ''}."
        )


def _refusal(target: ReplyTarget | None, code: str, surveys: SurveyCatalogue) -> str | None:
    """Why a reply to `target` cannot go, in words for staff, or None when it can."""
    if target is None:
        return (
            f"No digest quoted an answer #{code} (or it expired with its run). References "
            "are beside the quotes in a digest."
        )
    if target.purged:
        return f"#{code} expired: run {target.run_id}'s answers were deleted with its retention."
    survey = surveys.surveys.get(target.survey_id)
    if survey is None:
        return f"#{code} belongs to survey '{target.survey_id}', which is not loaded any more."
    if survey.anonymous or (target.response_found and target.pid is None):
        return f"#{code} is an answer to an anonymous survey: nobody can be replied to."
    if not target.response_found:
        return f"The author of #{code} asked to be forgotten: their answers are erased."
    if not target.may_reply:
        return f"The author of #{code} did not agree to replies (or took it back)."
    if target.platform is None:
        return f"civicbot no longer has a way to reach the author of #{code}."
    return None
