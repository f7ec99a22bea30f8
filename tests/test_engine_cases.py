"""Every engine behaviour case in tests/engine_cases/, run through one runner.

A case names a survey, optionally a starting language, the participant's today and
whether they have the accessible profile on (`accessible`), and steps. Each step says
what the participant typed (`say`) or clicked (`click`) and what must follow. The
state is serialised to JSON and read back before every step, as storage does.
"""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
import yaml

from conversations import engine
from conversations.checks import read_survey
from conversations.state import State, Turn

ROOT = Path(__file__).parent.parent
CASES = sorted((Path(__file__).parent / "engine_cases").glob("*.yaml"))


def load_survey(name: str):
    for folder in (ROOT / "surveys", Path(__file__).parent / "surveys"):
        path = folder / f"{name}.yaml"
        if path.exists():
            checked = read_survey(path.read_text(encoding="utf-8"), source=str(path))
            assert checked.survey is not None, [str(p) for p in checked.problems]
            return checked.survey
    raise FileNotFoundError(name)


SETUP_KEYS = {"say", "click", "repeat"}
TODAY = datetime.date(2026, 12, 1)  # unless a case says `today:`


def through_json(state: State) -> State:
    return State.from_json(state.to_json())


def check(turn: Turn, expected: dict, where: str) -> None:
    said = "\n".join(p.text for p in turn.messages)
    for fragment in expected.get("says", []):
        assert fragment in said, f"{where}: expected {fragment!r} in:\n{said}"
    for fragment in expected.get("never_says", []):
        assert fragment not in said, f"{where}: did not expect {fragment!r} in:\n{said}"
    if "messages" in expected:
        assert len(turn.messages) == expected["messages"], f"{where}: {turn.messages}"
    if "choices" in expected:
        labels = [c.label for c in turn.messages[-1].choices]
        assert labels == expected["choices"], where
    if "stage" in expected:
        assert turn.state.stage == expected["stage"], where
    if "question" in expected:
        assert turn.state.question_id == expected["question"], where
    if "language" in expected:
        assert turn.state.language == expected["language"], where
    if "outcome" in expected:
        assert turn.outcome == expected["outcome"], where
    if "may_reply" in expected:
        assert turn.may_reply == expected["may_reply"], where
    if "accessible" in expected:
        assert turn.accessible == expected["accessible"], where
    if expected.keys() - SETUP_KEYS:  # a step that states expectations also pins the answer
        recorded = None if turn.answer is None else {turn.answer.question_id: turn.answer.value}
        assert recorded == expected.get("answer"), f"{where}: recorded {recorded}"
        assert turn.retract == expected.get("retract"), where


@pytest.mark.parametrize("case_file", CASES, ids=[c.stem for c in CASES])
def test_engine_case(case_file: Path) -> None:
    case = yaml.safe_load(case_file.read_text(encoding="utf-8"))
    survey = load_survey(case["survey"])
    accessible = case.get("accessible", False)  # the profile, as storage keeps it
    turn = engine.start(survey, language=case.get("language"), accessible=accessible)
    check(turn, case.get("start", {}), "start")
    state = turn.state
    today = case.get("today", TODAY)
    for number, step in enumerate(case["steps"], start=1):
        state = through_json(state)
        if "click" in step:
            turn = engine.step(
                survey, state, "", action=step["click"], today=today, accessible=accessible
            )
        else:
            text = step["say"]
            if "repeat" in step:
                text = text * step["repeat"]
            turn = engine.step(survey, state, text, today=today, accessible=accessible)
        check(turn, step, f"step {number} ({step.get('say', step.get('click'))!r})")
        state = turn.state
        if turn.accessible is not None:
            accessible = turn.accessible


def test_there_are_cases() -> None:
    assert len(CASES) >= 20
