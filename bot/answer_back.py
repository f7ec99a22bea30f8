"""What someone writes back after a staff reply: passed on to the staff channel under the
reply's reference, redacted and screened like any free text, never kept as an answer.

A thread stays open for THREAD_DAYS after the reply, until staff close it (`survey
reply REF close`), and passes on at most MAX_PASSED messages; after that the person
is thanked and nothing more goes to staff until they reply again.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.events import Inbound
from bot.redaction import redacted
from bot.screening import screened
from bot.survey_files import SurveyCatalogue
from conversations.messages import say
from conversations.outgoing import Message
from conversations.questions.free_text import flat
from conversations.survey import Survey
from storage.contract import Storage
from storage.records import ReplyThread, TurnRecord

THREAD_DAYS = 30
MAX_PASSED = 10  # messages one reply's thread passes on to staff


@dataclass(frozen=True, slots=True)
class AnswerBack:
    to_person: Message
    to_staff: tuple[str, str, Message] | None  # (platform, channel, message)


def answer_back(thread: ReplyThread, survey: Survey, text: str, lang: str) -> AnswerBack:
    service = survey.title_in(lang)
    if thread.messages >= MAX_PASSED or not thread.staff_channel:
        return AnswerBack(Message(say(lang, "answer_back_enough", service=service)), None)
    platform, channel = thread.staff_channel.split(":", 1)
    if screened(text):
        said = (
            f"#{thread.reference}: its author wrote back; not shown, it reads as a threat or slur."
        )
    else:
        said = f"#{thread.reference}: its author writes back: “{flat(redacted(text))}”"
    return AnswerBack(
        Message(say(lang, "answer_back", service=service)), (platform, channel, Message(said))
    )


class AnswersBack:
    """Finds, for what someone writes outside any survey, the thread it answers."""

    def __init__(self, *, store: Storage, surveys: SurveyCatalogue) -> None:
        self._store = store
        self._surveys = surveys

    async def of(self, record: TurnRecord, inbound: Inbound, lang: str) -> AnswerBack | None:
        """What to pass on and to say, when the person is answering a staff reply; None
        otherwise. Notes the message on `record`. The caller has found that the message
        is neither a survey's keyword nor a command word."""
        text = inbound.text
        if not text.strip():
            return None
        since = record.now - THREAD_DAYS * 86_400
        thread = await self._store.open_thread(record.pid, since=since)
        survey = self._surveys.surveys.get(thread.survey_id) if thread else None
        if thread is None or survey is None:
            return None
        said = answer_back(thread, survey, text, lang)
        if said.to_staff is not None:
            record.thread_message = thread.reference
        return said
