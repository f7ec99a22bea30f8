"""Reading a survey file's text and reporting every problem in it, by file and question.

Structure is checked by pydantic (`conversations.survey`); what spans questions —
branch targets, loops, translations, ids — is checked here, all at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import yaml
from pydantic import ValidationError

from conversations.messages import COMMANDS, speaks
from conversations.questions import TYPE_NAMES, AnyQuestion
from conversations.survey import END, MAX_QUESTIONS, Survey
from conversations.text import fold

MAX_FILE_BYTES = 1_000_000


@dataclass(frozen=True, slots=True)
class Problem:
    source: str
    question: str | None
    message: str
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        where = f"{self.source}: question {self.question}" if self.question else self.source
        return f"{where}: {self.severity}: {self.message}"


@dataclass(frozen=True, slots=True)
class Checked:
    survey: Survey | None
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]


# libyaml's loader when PyYAML has it: it parses a large file some thirty times faster.
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _load_yaml(text: str) -> Any:
    """Safe YAML without aliases, which a survey never needs and a YAML bomb does."""
    for event in yaml.parse(text, Loader=_SafeLoader):
        if isinstance(event, yaml.AliasEvent):
            raise yaml.MarkedYAMLError(
                problem="anchors and aliases (*name) are not allowed",
                problem_mark=event.start_mark,
            )
    return yaml.load(text, Loader=_SafeLoader)


def read_survey(text: str, *, source: str) -> Checked:
    """Parse and check one survey file's text. `source` names the file in every problem."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_FILE_BYTES:
        return _failed(source, f"the file is larger than {MAX_FILE_BYTES:,} bytes")
    try:
        raw = _load_yaml(text)
    except yaml.YAMLError as error:
        return _failed(source, f"not valid YAML: {' '.join(str(error).split())}")
    if not isinstance(raw, dict):
        return _failed(source, "expected a mapping with id, title, languages and questions")
    questions = raw.get("questions")
    if isinstance(questions, list) and len(questions) > MAX_QUESTIONS:
        return _failed(
            source,
            f"{len(questions):,} questions; a chat survey may have at most {MAX_QUESTIONS} "
            "(people answer a few minutes' worth)",
        )
    try:
        survey = Survey.model_validate(raw)
    except ValidationError as error:
        return Checked(None, [_structural(source, raw, e) for e in error.errors()])
    problems = list(_cross_checks(survey, source))
    has_errors = any(p.severity == "error" for p in problems)
    return Checked(None if has_errors else survey, problems)


def _failed(source: str, message: str) -> Checked:
    return Checked(None, [Problem(source, None, message)])


def _structural(source: str, raw: dict[str, Any], error: dict[str, Any]) -> Problem:
    loc = list(error["loc"])
    question = None
    if len(loc) >= 2 and loc[0] == "questions" and isinstance(loc[1], int):
        entry = raw["questions"][loc[1]]
        found = entry.get("id") if isinstance(entry, dict) else None
        question = str(found) if found else f"#{loc[1] + 1}"
        loc = loc[2:]
        if loc and loc[0] in TYPE_NAMES:  # pydantic puts the union tag in the path
            loc = loc[1:]
    path = ".".join(str(part) for part in loc)
    kind = error["type"]
    if kind == "extra_forbidden":
        message = f"unknown setting '{path}'"
    elif kind == "missing":
        message = f"missing '{path}'"
    elif kind == "union_tag_invalid":
        message = f"unknown type {error['input'].get('type')!r}; use one of: {_TYPE_LIST}"
    elif kind == "union_tag_not_found":
        message = f"missing 'type'; use one of: {_TYPE_LIST}"
    elif kind == "string_pattern_mismatch" and path.endswith("id"):
        message = f"'{path}' must be lower-case letters, digits, _ or - (got {error['input']!r})"
    else:
        message = f"{path}: {error['msg']}" if path else error["msg"]
    return Problem(source, question, message)


_TYPE_LIST = ", ".join(TYPE_NAMES)


def _cross_checks(survey: Survey, source: str) -> Iterator[Problem]:
    def problem(question: str | None, message: str, severity: str = "error") -> Problem:
        return Problem(source, question, message, severity)  # type: ignore[arg-type]

    if len(set(survey.languages)) != len(survey.languages):
        yield problem(None, f"languages lists a language twice: {survey.languages}")
    for lang in survey.languages:
        if not speaks(lang):
            yield problem(
                None,
                f"the bot's own messages have no '{lang}'; English is used for them",
                "warning",
            )
    if survey.keyword and fold(survey.keyword) in COMMANDS:
        yield problem(None, f"keyword '{survey.keyword}' is a command word; choose another")
    if survey.may_reply and survey.anonymous:
        yield problem(
            None, "may_reply needs a survey that is not anonymous: a reply needs a way back"
        )
    if survey.open and not survey.keyword:
        yield problem(None, "open: true needs a keyword, the word that starts the survey")
    for name in ("title", "intro", "consent", "thanks"):
        yield from _translations(survey, getattr(survey, name), None, name, problem)
        if name != "title":
            plain = getattr(survey.plain, name)
            yield from _translations(survey, plain, None, f"plain {name}", problem, every=False)

    seen: set[str] = set()
    for question in survey.questions:
        if question.id in seen:
            yield problem(question.id, "the id is used by another question too")
        seen.add(question.id)
    known = seen | {END}
    for question in survey.questions:
        yield from _question_checks(survey, question, known, problem)
    yield from _flow_checks(survey, problem)
    if survey.expected is not None:
        yield from _expected_checks(survey, survey.expected, problem)


def _expected_checks(survey: Survey, expected, problem) -> Iterator[Problem]:
    known = expected.question in survey.question_ids
    question = survey.question(expected.question) if known else None
    if question is None or question.type != "single_choice":
        yield problem(None, f"expected.question '{expected.question}' is no single-choice question")
        return
    options = {option.id for option in question.options}
    for option in expected.shares:
        if option not in options:
            yield problem(None, f"expected.shares names '{option}', which is no option of it")
    total = sum(expected.shares.values())
    if not 95 <= total <= 105:
        yield problem(None, f"expected.shares add up to {total:g} %, not 100", "warning")


def _question_checks(survey: Survey, question: AnyQuestion, known: set[str], problem) -> Iterator:
    qid = question.id
    for name, texts in question.translated():
        yield from _translations(survey, texts, qid, name, problem)
    for name, texts in question.plain_texts():  # a language left out says the usual text
        yield from _translations(survey, texts, qid, name, problem, every=False)
    if question.next is not None and question.next not in known:
        yield problem(qid, f"next goes to '{question.next}', which is no question (or 'end')")
    for rule in question.branch:
        if rule.goto not in known:
            yield problem(qid, f"branch goes to '{rule.goto}', which is no question (or 'end')")
    for severity, message in question.problems():
        yield problem(qid, message, severity)


def _translations(
    survey: Survey, texts, qid, what: str, problem, *, every: bool = True
) -> Iterator[Problem]:
    """Texts only in the survey's languages, and (`every`) in each of them."""
    if texts is None:
        return
    for lang in survey.languages if every else ():
        if lang not in texts:
            yield problem(qid, f"{what} has no '{lang}' translation")
    for lang in texts:
        if lang not in survey.languages:
            yield problem(qid, f"{what} has '{lang}' text, but '{lang}' is not in languages")


def _successors(survey: Survey, question: AnyQuestion) -> list[str]:
    targets = [rule.goto for rule in question.branch]
    targets.append(question.next or survey.after(question.id))
    return [t for t in dict.fromkeys(targets) if t != END]


def _flow_checks(survey: Survey, problem) -> Iterator[Problem]:
    ids = {q.id for q in survey.questions}
    graph = {q.id: [t for t in _successors(survey, q) if t in ids] for q in survey.questions}
    # A survey only moves forward; `back` is how people return. A cycle could repeat forever.
    colour: dict[str, int] = {}  # 1 = on the current path, 2 = fully explored
    reported: set[frozenset[str]] = set()
    path: list[str] = []

    def visit(node: str) -> Iterator[Problem]:
        colour[node] = 1
        path.append(node)
        for nxt in graph[node]:
            if colour.get(nxt) == 1:
                loop = [*path[path.index(nxt) :], nxt]
                if frozenset(loop) not in reported:
                    reported.add(frozenset(loop))
                    yield problem(
                        nxt,
                        f"questions loop ({' -> '.join(loop)}), so the survey may never finish; "
                        "surveys move forward and people type back to return",
                    )
            elif nxt not in colour:
                yield from visit(nxt)
        path.pop()
        colour[node] = 2

    for question in survey.questions:
        if question.id not in colour:
            yield from visit(question.id)

    reachable: set[str] = set()
    frontier = [survey.questions[0].id]
    while frontier:
        node = frontier.pop()
        if node not in reachable:
            reachable.add(node)
            frontier.extend(graph[node])
    for question in survey.questions:
        if question.id not in reachable:
            yield problem(
                question.id, "no path through the survey reaches this question", "warning"
            )
