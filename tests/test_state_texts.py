"""A conversation's state reads back from storage as it was written, whichever of the
states in use it is, however many there are, and whatever its read-back answer holds."""

from __future__ import annotations

import json

import pytest

from conversations import state as state_module
from conversations.state import KEPT_STATES, State

STATES = [
    State("library-services", "fi", "question", "visits", ("consent",), 1),
    State("library-services", "en", "consent"),
    State("home-care", "sv", "question", "help", accessible=True),
    State("home-care", "sv", "question", "help", accessible=True, pending=["a", "b"]),
    State("home-care", "en", "question", "help", accessible=True, pending="kept"),
    State("home-care", "en", "done", history=("help", "visits")),
]


@pytest.mark.parametrize("state", STATES)
def test_a_state_reads_back_as_it_was_written(state: State) -> None:
    text = state.to_json()
    assert State.from_json(text) == state
    assert State.from_json(text).to_json() == text  # and again, from what it remembers


def test_a_state_stored_before_reads_back_from_its_own_text() -> None:
    older = (
        '{"language": "fi", "survey": "home-care", "stage": "consent",'
        ' "question": null, "history": [], "failures": 0}'
    )
    state = State.from_json(older)
    assert state == State("home-care", "fi", "consent")
    assert json.loads(state.to_json()) == json.loads(older)


def test_more_states_than_are_remembered_all_read_back() -> None:
    many = [State("library-services", "fi", "question", f"q{n}") for n in range(KEPT_STATES + 50)]
    texts = [state.to_json() for state in many]
    assert len(state_module._states) <= KEPT_STATES
    assert [State.from_json(text) for text in texts] == many


def test_a_text_that_is_not_a_state_is_refused_and_not_remembered() -> None:
    with pytest.raises(json.JSONDecodeError):
        State.from_json("{not json")
    assert "{not json" not in state_module._states
