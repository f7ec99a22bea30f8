"""The engine answers every input, also on a survey file that changed under a conversation,
and never raises."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conversations import engine
from conversations.checks import read_survey
from conversations.state import State
from conversations.survey import Survey

ROOT = Path(__file__).resolve().parent.parent
SURVEY_FILES = sorted(
    [*(ROOT / "surveys").glob("*.yaml"), *(ROOT / "tests/surveys").glob("*.yaml")]
)
TODAY = datetime.date(2026, 12, 1)


def survey(path: Path) -> Survey:
    checked = read_survey(path.read_text(encoding="utf-8"), source=str(path))
    assert checked.survey is not None
    return checked.survey


LIBRARY = survey(ROOT / "surveys" / "library-services.yaml")


def without(questions: set[str], of: Survey = LIBRARY) -> Survey:
    """The survey as it reads after someone deleted these questions from its file."""
    fields = of.model_dump()
    fields["questions"] = [q for q in fields["questions"] if q["id"] not in questions]
    return Survey.model_validate(fields)


def at(question: str, history: tuple[str, ...] = ()) -> State:
    return State(LIBRARY.id, "en", "question", question, history)


def test_a_long_message_after_stopping_at_consent_gets_a_reason() -> None:
    stopped = State(LIBRARY.id, "en", "stopped")
    turn = engine.step(LIBRARY, stopped, "x" * 20_000, today=TODAY)
    said = turn.messages[0].text
    assert said.startswith("That message is too long for me (20000 characters).")
    assert "Type continue" in said
    assert turn.state == stopped


def test_a_question_deleted_from_the_file_moves_the_person_to_the_next_one_left() -> None:
    changed = without({"improve"})
    turn = engine.step(changed, at("improve", ("visits", "services")), "help", today=TODAY)
    assert turn.state.question_id == "satisfaction"  # the first not answered yet
    assert "how satisfied are you" in turn.messages[-1].text


def test_when_no_question_is_left_the_survey_ends_with_thanks() -> None:
    changed = without({"age_group"})
    answered = ("visits", "services", "satisfaction", "barriers", "improve")
    turn = engine.step(changed, at("age_group", answered), "2", today=TODAY)
    assert (turn.state.stage, turn.outcome) == ("done", "completed")
    assert turn.messages[0].text == "Thank you! Library staff read every answer."


def test_a_language_taken_out_of_the_file_falls_back_to_the_first() -> None:
    english_only = Survey.model_validate({**LIBRARY.model_dump(), "languages": ["en"]})
    finnish = State(LIBRARY.id, "fi", "question", "visits")
    turn = engine.step(english_only, finnish, "1", today=TODAY)
    assert turn.state.language == "en"


def test_a_buttons_value_is_cleaned_like_typed_text() -> None:
    turn = engine.step(
        LIBRARY, at("improve"), "", action="improve=Ramp\x00\u202e please", today=TODAY
    )
    assert turn.answer.value == "Ramp please"


_TYPED = st.one_of(
    st.sampled_from(
        [
            "yes",
            "no",
            "1",
            "2",
            "3",
            "1, 2",
            "skip",
            "back",
            "stop",
            "continue",
            "help",
            "language fi",
            "language sv",
            "kieli",
            "simple",
            "simple off",
            "repeat",
            "",
            "today",
            "3.12.2026",
            "0",
            "99",
        ]
    ),
    st.text(max_size=60),
    st.builds(lambda n: "a" * n, st.integers(10_001, 10_010)),  # over the message limit
)


def walk(chosen: Survey, data: st.DataObject, steps: int) -> None:
    """Random answers, clicks and words through `chosen`, with the accessible profile on or
    off: a reply and a well-formed state after every one."""
    accessible = data.draw(st.booleans())
    language = data.draw(st.sampled_from(["en", "fi", "sv", None]))
    turn = engine.start(chosen, language=language, accessible=accessible)
    for _ in range(data.draw(st.integers(1, steps))):
        choices = [c.value for m in turn.messages for c in m.choices]
        if choices and data.draw(st.booleans()):
            action, text = data.draw(st.sampled_from(choices)), ""
        else:
            action, text = None, data.draw(_TYPED)
        state = State.from_json(turn.state.to_json())
        assert json.loads(turn.state.to_json())["survey"] == chosen.id
        turn = engine.step(chosen, state, text, action=action, today=TODAY, accessible=accessible)
        assert turn.messages, (text, action)
        if turn.accessible is not None:
            accessible = turn.accessible
        assert all(m.text for m in turn.messages)
        assert turn.state.stage in (
            "consent",
            "question",
            "may_reply",
            "stopped",
            "done",
            "declined",
        )
        if turn.state.stage == "question":
            assert turn.state.question_id in chosen.question_ids
        assert turn.state.pending is None or accessible, "read back with the profile off"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_survey_answers_any_input_with_a_well_formed_state(data: st.DataObject) -> None:
    walk(survey(data.draw(st.sampled_from(SURVEY_FILES))), data, 25)


@st.composite
def survey_files(draw: st.DrawFn) -> str:
    """A survey file as someone might write one: random question types, optional
    questions, jumps forward, back, to the end and to ids that do not exist, consent or
    not, one language or three. Many fail `surveys check`; the rest must all work."""
    languages = draw(st.sampled_from([["en"], ["fi", "en"], ["en", "fi", "sv"]]))

    def texts(word: str) -> dict[str, str]:
        return {language: f"{word} ({language})" for language in languages}

    count = draw(st.integers(1, 4))
    questions = []
    for number in range(1, count + 1):
        # mostly a later question or the end; now and then a loop back or an unknown id
        ahead = [f"q{n}" for n in range(number + 1, count + 1)] + ["end"]
        target = st.sampled_from(ahead * 4 + ["q1", "missing"])
        kind = draw(
            st.sampled_from(["single_choice", "multiple_choice", "scale", "text", "number", "date"])
        )
        question: dict = {"id": f"q{number}", "type": kind, "text": texts(f"Question {number}")}
        if kind.endswith("choice"):
            options = draw(st.integers(2, 4))
            question["options"] = [
                {"id": f"o{n}", "text": texts(f"option {n}")} for n in range(options)
            ]
        if kind == "scale" and draw(st.booleans()):
            low = draw(st.integers(-2, 3))
            question.update(min=low, max=low + draw(st.integers(1, 10)))
        if kind == "number" and draw(st.booleans()):
            question.update(min=draw(st.integers(-5, 5)), max=draw(st.integers(5, 100)))
        if draw(st.booleans()):
            question["optional"] = True
        if draw(st.booleans()):
            question["next"] = draw(target)
        for _ in range(draw(st.integers(0, 2))):
            rule: dict = {"goto": draw(target)}
            if kind.endswith("choice"):
                options = st.sampled_from(["o0", "o1", "o1", "o9"])
                rule["any_of"] = draw(st.lists(options, min_size=1, max_size=2))
            elif kind in ("scale", "number"):
                rule[draw(st.sampled_from(["at_most", "at_least"]))] = draw(st.integers(-3, 12))
            else:
                continue  # a text or date question has no branch to take

            question.setdefault("branch", []).append(rule)
        questions.append(question)
    survey = {
        "id": "fuzzed",
        "title": texts("Fuzzed"),
        "languages": languages,
        "questions": questions,
    }
    if draw(st.booleans()):
        survey["consent"] = texts("May we?")
    survey[draw(st.sampled_from(["may_reply", "anonymous", "repeat"]))] = True
    return json.dumps(survey)  # JSON is YAML


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=survey_files(), data=st.data())
def test_every_survey_that_passes_its_check_answers_any_input(
    text: str, data: st.DataObject
) -> None:
    checked = read_survey(text, source="fuzzed.yaml")
    if checked.errors:
        assert all(problem.message for problem in checked.errors)  # refused with a reason
        return
    assert checked.survey is not None
    walk(checked.survey, data, 20)
