"""The conversation engine: a pure state machine over one survey.

`start` opens a conversation and `step` takes one message. Both return a `Turn`:
the new state, the answer to record or retract, the prompts to send and what
happened. Nothing here reads a clock, a database or a network, so the same
inputs always give the same turn.
"""

from __future__ import annotations

import datetime
from dataclasses import replace

from conversations.messages import (
    LANGUAGE_NAMES,
    NO_WORDS,
    OFF_WORDS,
    YES_WORDS,
    command_in,
    language_named,
    say,
)
from conversations.outgoing import Choice, Message, answer_action, read_answer
from conversations.questions import Asking, Invalid
from conversations.state import Answer, State, Turn
from conversations.survey import END, Survey
from conversations.text import clean, fold

# Longer messages are refused before any parsing; no question accepts more.
MAX_MESSAGE_LENGTH = 10_000
# After this many invalid answers in a row the bot offers help (and skip).
FAILURES_BEFORE_HELP = 3


def start(survey: Survey, *, language: str | None = None, accessible: bool = False) -> Turn:
    """Open a conversation: the introduction, then consent or the first question.
    `accessible`: the person has the accessible profile on."""
    chosen = language if language in survey.languages else survey.default_language
    if survey.consent:
        state = State(survey.id, chosen, "consent", accessible=accessible)
    else:
        state = State(survey.id, chosen, "question", survey.questions[0].id, accessible=accessible)
    return Turn(state, (_introduction(survey, state), _ask(survey, state)), outcome="started")


def step(
    survey: Survey,
    state: State,
    text: str,
    *,
    today: datetime.date,
    action: str | None = None,
    accessible: bool = False,
) -> Turn:
    """Take one message (typed `text`, or a button's `action` value) and return the turn.
    `today` is the participant's date, for answers such as "yesterday"; `accessible`,
    whether they have the accessible profile on (it may have changed since the last turn)."""
    if state.finished:
        return Turn(state, (Message(say(state.language, "already_finished")),))
    if state.accessible != accessible:
        state = replace(state, accessible=accessible, pending=None)
    state, nothing_left = _as_the_survey_is_now(survey, state)
    if nothing_left:  # the question someone was at is gone, and every other was answered
        return _finished(survey, state)
    lang = state.language
    if len(text) > MAX_MESSAGE_LENGTH:
        reason = say(lang, "message_too_long", length=len(text), limit=MAX_MESSAGE_LENGTH)
        if state.stage == "stopped":
            return Turn(state, (Message(f"{reason}\n{say(lang, 'still_stopped')}"),))
        return _reject(survey, state, reason)

    text = clean(text)
    action = None if action is None else clean(action)
    command = command_in(text, action)
    if command is not None:
        return _command(survey, state, *command)
    if state.stage == "stopped":
        return Turn(state, (Message(say(lang, "still_stopped")),))
    if state.stage == "consent":
        return _consent(survey, state, text, action)
    if state.stage == "may_reply":
        return _may_reply(survey, state, text, action)
    if state.pending is not None:
        return _confirming(survey, state, text, action, Asking(lang, today))
    return _answer(survey, state, text, action, Asking(lang, today))


def _as_the_survey_is_now(survey: Survey, state: State) -> tuple[State, bool]:
    """The state fitted to the survey file as it is now, which may have changed under the
    conversation: a language it no longer has becomes its first; questions it no longer
    has leave the path back, and the current one gives way to the first question not yet
    answered. True beside it when no such question is left."""
    known = survey.question_ids
    current = state.question_id
    if (
        state.language in survey.languages
        and (current is None or current in known)
        and all(q in known for q in state.history)
    ):
        return state, False  # the usual case: nothing changed
    language = state.language if state.language in survey.languages else survey.default_language
    history = tuple(q for q in state.history if q in known)
    gone = current is not None and current not in known
    if gone:
        current = next((q.id for q in survey.questions if q.id not in history), None)
    moved = replace(
        state, language=language, history=history, question_id=current, failures=0, pending=None
    )
    return moved, gone and current is None


def _command(survey: Survey, state: State, command: str, argument: str) -> Turn:
    lang = state.language
    if command == "language":
        return _switch_language(survey, state, argument)
    if command == "accessible":
        return _switch_profile(survey, state, on=argument not in OFF_WORDS)
    if state.stage == "may_reply" and command in ("stop", "unsubscribe", "no_replies"):
        return _replies(survey, state, allowed=False, said="no_replies")  # all answered: a no
    if command == "no_replies":  # storage withdraws every agreement; the survey goes on
        said = Message(say(lang, "no_replies"))
        return Turn(state, (said,) if state.stage == "stopped" else (said, _ask(survey, state)))
    if command in ("stop", "unsubscribe"):  # an opt-out ends the survey as stop does
        said = Message(say(lang, "unsubscribed" if command == "unsubscribe" else "stopped"))
        if state.stage == "stopped":
            return Turn(
                state, (said if command == "unsubscribe" else Message(say(lang, "still_stopped")),)
            )
        return Turn(replace(state, stage="stopped", failures=0), (said,), outcome="stopped")
    if state.stage == "stopped":
        if command != "continue":
            return Turn(state, (Message(say(lang, "still_stopped")),))
        resumed = replace(state, stage="question" if state.question_id else "consent")
        return Turn(resumed, (_ask(survey, resumed),), outcome="resumed")
    if command == "help":
        return Turn(state, (Message(_help_text(survey, state)), _ask(survey, state)))
    if command == "back":
        if not state.history:
            return Turn(state, (Message(say(lang, "first_question")), _ask(survey, state)))
        previous = state.history[-1]
        back = replace(
            state, question_id=previous, history=state.history[:-1], failures=0, pending=None
        )
        return Turn(back, (_ask(survey, back),), retract=previous)
    if command == "skip":
        question = survey.question(state.question_id) if state.stage == "question" else None
        if question is None or not question.optional:
            return Turn(state, (Message(say(lang, "cannot_skip")), _ask(survey, state)))
        return _advance(survey, replace(state, pending=None), Answer(question.id, None))
    # `continue` and `repeat` outside a stopped conversation show where we are
    return Turn(state, (_ask(survey, state),))


def _switch_profile(survey: Survey, state: State, *, on: bool) -> Turn:
    """The accessible profile on or off: said, and the question asked again as it now is."""
    switched = replace(state, accessible=on, pending=None)
    said = Message(say(state.language, "accessible_on" if on else "accessible_off"))
    prompts = (said,) if state.stage == "stopped" else (said, _ask(survey, switched))
    return Turn(switched, prompts, accessible=on)


def _switch_language(survey: Survey, state: State, argument: str) -> Turn:
    wanted = language_named(argument) if argument else None
    if wanted not in survey.languages:
        names = ", ".join(f"{LANGUAGE_NAMES.get(c, c)} ({c})" for c in survey.languages)
        example = next((c for c in survey.languages if c != state.language), state.language)
        choices = tuple(
            Choice(LANGUAGE_NAMES.get(c, c), f"cmd:language {c}") for c in survey.languages
        )
        reason = say(state.language, "language_choose", languages=names, example=example)
        return Turn(state, (Message(reason, choices, numbered=False),))
    switched = replace(state, language=wanted)
    prompts = [Message(say(wanted, "language_switched"))]
    if state.stage != "stopped":
        prompts.append(_ask(survey, switched))
    return Turn(switched, tuple(prompts))


def _consent(survey: Survey, state: State, text: str, action: str | None) -> Turn:
    folded = fold(read_answer(action)[1] if action else text)
    if folded in YES_WORDS or folded == "1":
        first = replace(state, stage="question", question_id=survey.questions[0].id, failures=0)
        return Turn(first, (_ask(survey, first),), outcome="consented")
    if folded in NO_WORDS or folded == "2":
        declined = replace(state, stage="declined", failures=0)
        return Turn(
            declined, (Message(say(state.language, "consent_declined")),), outcome="declined"
        )
    return _reject(survey, state, say(state.language, "consent_hint"))


def _answer(survey: Survey, state: State, text: str, action: str | None, asking: Asking) -> Turn:
    question = survey.question(state.question_id)
    if action is not None:
        question_id, raw = read_answer(action)
        if question_id != question.id:
            return Turn(state, (Message(say(state.language, "stale_button")), _ask(survey, state)))
        result = question.from_action(raw, asking)
    elif not text:
        result = Invalid(say(state.language, "empty"))
    else:
        result = question.parse(text, asking)
    if isinstance(result, Invalid):
        return _reject(survey, state, result.reason)
    if state.accessible:  # read back first: it is kept once the person says it is right
        read_back = replace(state, pending=result, failures=0)
        return Turn(read_back, (_ask(survey, read_back),))
    return _advance(survey, state, Answer(question.id, result))


def _confirming(
    survey: Survey, state: State, text: str, action: str | None, asking: Asking
) -> Turn:
    """An answer was read back: yes keeps it, no asks the question again, and anything
    else is taken as the question's answer (read back in its place, or told what is
    wrong with the read-back still standing)."""
    answered, raw = read_answer(action) if action else ("confirm", text)
    if answered == "confirm":
        folded = fold(raw)
        if folded in YES_WORDS:
            return _advance(survey, state, Answer(state.question_id, state.pending))
        if folded in NO_WORDS:
            again = replace(state, pending=None, failures=0)
            return Turn(again, (Message(say(state.language, "answer_again")), _ask(survey, again)))
    return _answer(survey, state, text, action, asking)


def _advance(survey: Survey, state: State, answer: Answer) -> Turn:
    question = survey.question(answer.question_id)
    target = survey.next_question(question, answer.value)
    if target == END:
        return _finished(survey, state, answer)
    # built directly: this is the hot path, and dataclasses.replace costs more than the rest
    moved = State(
        state.survey_id,
        state.language,
        "question",
        target,
        (*state.history, question.id),
        accessible=state.accessible,
    )
    return Turn(moved, (_ask(survey, moved),), answer=answer)


def _finished(survey: Survey, state: State, answer: Answer | None = None) -> Turn:
    """The survey is done: thanks, or first, where the survey asks it, whether the service
    may reply. The path taken stays with no one once it is over (it can tell an anonymous
    answer)."""
    stage = "may_reply" if survey.may_reply else "done"
    done = replace(state, stage=stage, question_id=None, history=(), failures=0, pending=None)
    said = _ask(survey, done) if survey.may_reply else _thanks(survey, state)
    return Turn(done, (said,), answer=answer, outcome="completed")


def _thanks(survey: Survey, state: State) -> Message:
    thanks = survey.worded("thanks", state.language, plain=state.accessible)
    return Message(thanks or say(state.language, "thanks"))


def _may_reply(survey: Survey, state: State, text: str, action: str | None) -> Turn:
    folded = fold(read_answer(action)[1] if action else text)
    if folded in YES_WORDS or folded == "1":
        return _replies(survey, state, allowed=True, said="may_reply_yes")
    if folded in NO_WORDS or folded == "2":
        return _replies(survey, state, allowed=False, said="may_reply_no")
    return _reject(survey, state, say(state.language, "may_reply_hint"))


def _replies(survey: Survey, state: State, *, allowed: bool, said: str) -> Turn:
    done = replace(state, stage="done", failures=0)
    lang = state.language
    return Turn(done, (Message(say(lang, said)), _thanks(survey, state)), may_reply=allowed)


def _reject(survey: Survey, state: State, reason: str) -> Turn:
    """Explain what was wrong and ask again; after repeated failures, offer a way out."""
    failed = State(
        state.survey_id,
        state.language,
        state.stage,
        state.question_id,
        state.history,
        state.failures + 1,
        state.accessible,
        state.pending,
    )
    lang = state.language
    if failed.failures < FAILURES_BEFORE_HELP or state.stage == "stopped":
        return Turn(failed, (Message(reason), _ask(survey, failed)))
    optional = state.stage == "question" and survey.question(state.question_id).optional
    offer = say(lang, "stuck_optional" if optional else "stuck")
    ways_out = [Choice(say(lang, "help_label"), "cmd:help")]
    if optional:
        ways_out.append(Choice(say(lang, "skip_label"), "cmd:skip"))
    return Turn(
        failed,
        (Message(f"{reason}\n{offer}", tuple(ways_out), numbered=False), _ask(survey, failed)),
    )


def _introduction(survey: Survey, state: State) -> Message:
    lang = state.language
    lines = [survey.title[lang]]
    if intro := survey.worded("intro", lang, plain=state.accessible):
        lines.append(intro)
    lines.extend(say(other, "language_offer") for other in survey.languages if other != lang)
    return Message("\n".join(lines))


def _help_text(survey: Survey, state: State) -> str:
    if state.stage == "question":
        question = survey.question(state.question_id)
        if question.help:
            return f"{question.help[state.language]}\n{say(state.language, 'help')}"
    return say(state.language, "help")


def _ask(survey: Survey, state: State) -> Message:
    """The prompt for wherever the conversation stands."""
    lang = state.language
    if state.stage == "consent":
        choices = (
            Choice(say(lang, "yes"), answer_action("consent", "yes")),
            Choice(say(lang, "no"), answer_action("consent", "no")),
        )
        consent = survey.worded("consent", lang, plain=state.accessible)
        return Message(f"{consent}\n{say(lang, 'consent_hint')}", choices, language=lang)
    if state.stage == "may_reply":
        choices = (
            Choice(say(lang, "yes"), answer_action("may_reply", "yes")),
            Choice(say(lang, "no"), answer_action("may_reply", "no")),
        )
        text = f"{say(lang, 'may_reply')}\n{say(lang, 'may_reply_hint')}"
        return Message(text, choices, language=lang)
    if state.pending is not None:
        return _read_back(survey, state)
    key = (state.question_id, lang, state.accessible)
    cached = survey.prompt_cache.get(key)
    if cached is None:
        question = survey.question(state.question_id)
        asked = question.accessible_prompt(lang) if state.accessible else question.prompt(lang)
        # in its language once, so that a turn's replies need not be copied to say it
        cached = survey.prompt_cache[key] = replace(asked, language=lang)
    return cached


def _read_back(survey: Survey, state: State) -> Message:
    """The answer given, said back: "You chose 4, Good. Is that right?", yes or no."""
    lang = state.language
    question = survey.question(state.question_id)
    said = say(lang, question.read_back_key, answer=question.read_back(state.pending, lang))
    choices = (
        Choice(say(lang, "yes"), answer_action("confirm", "yes")),
        Choice(say(lang, "no"), answer_action("confirm", "no")),
    )
    text = f"{said}\n{say(lang, 'confirm_hint')}"
    return Message(text, choices, numbered=False, language=lang)
