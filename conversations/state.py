"""The engine's plain data: where a conversation stands (`State`, stored between turns
as JSON) and what one turn did (`Turn`). No behaviour beyond reading and writing it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

from conversations.outgoing import Message
from conversations.questions import AnswerValue

# may_reply: the survey is complete, and asks whether the service may reply to the person
Stage = Literal["consent", "question", "may_reply", "stopped", "done", "declined"]
Outcome = Literal["started", "consented", "declined", "completed", "stopped", "resumed"]
TERMINAL_STAGES = ("done", "declined")


@dataclass(frozen=True, slots=True)
class Answer:
    question_id: str
    value: AnswerValue  # None when the participant skipped the question


@dataclass(frozen=True, slots=True)
class State:
    survey_id: str
    language: str
    stage: Stage
    question_id: str | None = None
    history: tuple[str, ...] = ()  # questions answered on the way here, for `back`
    failures: int = 0
    # The accessible profile, as the participant has it: plain texts, every choice written
    # out, each answer read back and confirmed before it is kept.
    accessible: bool = False
    # An answer read back and not yet confirmed (the accessible profile); None: none is.
    pending: AnswerValue = None

    def to_json(self) -> str:
        """The state as storage keeps it; only `from_json` reads it back."""
        text = _texts.get(self) if self.pending is None else None
        if text is None:
            text = self._encoded()
            _remember(self, text, encoded=True)
        return text

    @classmethod
    def from_json(cls, text: str) -> State:
        state = _states.get(text)
        if state is None:
            state = cls._decoded(text)
            _remember(state, text, encoded=False)
        return state

    def _encoded(self) -> str:
        data = {
            "survey": self.survey_id,
            "language": self.language,
            "stage": self.stage,
            "question": self.question_id,
            "history": list(self.history),
            "failures": self.failures,
        }
        if self.accessible:  # most states have neither: they stay as short as they were
            data["accessible"] = True
        if self.pending is not None:
            data["pending"] = self.pending
        return json.dumps(data)

    @classmethod
    def _decoded(cls, text: str) -> State:
        data = json.loads(text)
        return cls(
            survey_id=data["survey"],
            language=data["language"],
            stage=data["stage"],
            question_id=data["question"],
            history=tuple(data["history"]),
            failures=data["failures"],
            accessible=data.get("accessible", False),
            pending=data.get("pending"),
        )

    @property
    def finished(self) -> bool:
        return self.stage in TERMINAL_STAGES


# States and their texts both ways, for the states in use: every turn reads its person's
# state and writes the next, and people at the same place in a survey share one. Bounded:
# when full it starts again, which costs one decoding per state then in use.
KEPT_STATES = 4096
_states: dict[str, State] = {}
_texts: dict[State, str] = {}


def _remember(state: State, text: str, *, encoded: bool) -> None:
    if state.pending is not None:  # a read-back answer may be a list: not hashable
        return
    if len(_states) >= KEPT_STATES:  # every state in _texts has its text in _states
        _states.clear()
        _texts.clear()
    _states[text] = state
    if encoded:  # a text read back may be an older one: `to_json` gives its own
        _texts[state] = text


@dataclass(frozen=True, slots=True)
class Turn:
    state: State
    messages: tuple[Message, ...]
    answer: Answer | None = None
    retract: str | None = None  # question id whose stored answer no longer holds
    outcome: Outcome | None = None
    may_reply: bool | None = None  # the person's answer to whether the service may reply
    accessible: bool | None = None  # the person switched the accessible profile on or off
