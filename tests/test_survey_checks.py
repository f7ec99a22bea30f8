"""`civicbot surveys check`: every problem named with file, question and what is wrong."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main
from conversations.checks import read_survey

GOOD = """
id: demo
languages: [en, fi]
title: {en: Demo, fi: Demo}
questions:
  - id: first
    type: single_choice
    text: {en: Pick, fi: Valitse}
    options:
      - {id: a, text: {en: A, fi: A}}
      - {id: b, text: {en: B, fi: B}}
  - id: second
    type: text
    text: {en: Say, fi: Sano}
"""


def check(tmp_path: Path, body: str, name: str = "survey.yaml") -> tuple[int, str]:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    result = CliRunner().invoke(main, ["surveys", "check", str(path)])
    return result.exit_code, result.output


def with_question(extra: str) -> str:
    return GOOD + textwrap.indent(textwrap.dedent(extra), "  ")


def test_a_good_survey_passes(tmp_path: Path) -> None:
    code, output = check(tmp_path, GOOD)
    assert code == 0
    assert "ok: 'demo', 2 questions, languages en, fi" in output


def test_the_example_surveys_pass() -> None:
    examples = sorted(str(p) for p in (Path(__file__).parent.parent / "surveys").glob("*.yaml"))
    assert len(examples) >= 2
    result = CliRunner().invoke(main, ["surveys", "check", *examples])
    assert result.exit_code == 0, result.output


def test_not_yaml_is_reported_with_the_line(tmp_path: Path) -> None:
    code, output = check(tmp_path, "id: [unclosed\n  title: x\n")
    assert code == 1
    assert "survey.yaml: error: not valid YAML" in output
    assert "line" in output


def test_yaml_that_is_not_a_mapping(tmp_path: Path) -> None:
    code, output = check(tmp_path, "- just\n- a list\n")
    assert code == 1
    assert "expected a mapping with id, title, languages and questions" in output


def test_aliases_are_refused_so_a_yaml_bomb_cannot_explode(tmp_path: Path) -> None:
    bomb = 'a: &a ["x","x","x","x","x","x","x","x","x"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n'
    code, output = check(tmp_path, bomb + "c: [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n")
    assert code == 1
    assert "anchors and aliases (*name) are not allowed" in output


def test_ten_thousand_questions_are_refused_with_the_count(tmp_path: Path) -> None:
    questions = "".join(
        f"  - {{id: q{i}, type: text, text: {{en: Q{i}}}}}\n" for i in range(10_000)
    )
    body = "id: huge\nlanguages: [en]\ntitle: {en: Huge}\nquestions:\n" + questions
    code, output = check(tmp_path, body)
    assert code == 1
    assert "10,000 questions; a chat survey may have at most 100" in output


def test_unknown_type_names_the_question_and_the_valid_types(tmp_path: Path) -> None:
    code, output = check(
        tmp_path, with_question("- {id: third, type: slider, text: {en: x, fi: x}}")
    )
    assert code == 1
    assert "question third: error: unknown type 'slider'; use one of: single_choice" in output


def test_branch_to_a_missing_question(tmp_path: Path) -> None:
    body = GOOD.replace(
        "      - {id: b, text: {en: B, fi: B}}\n",
        "      - {id: b, text: {en: B, fi: B}}\n"
        "    branch:\n      - {any_of: [b], goto: nowhere}\n",
    )
    code, output = check(tmp_path, body)
    assert code == 1
    assert "question first: error: branch goes to 'nowhere', which is no question" in output


def test_a_loop_that_never_finishes(tmp_path: Path) -> None:
    body = GOOD.replace(
        "    text: {en: Say, fi: Sano}\n", "    text: {en: Say, fi: Sano}\n    next: first\n"
    )
    code, output = check(tmp_path, body)
    assert code == 1
    assert "questions loop (first -> second -> first)" in output


def test_missing_translation(tmp_path: Path) -> None:
    code, output = check(tmp_path, GOOD.replace("text: {en: Say, fi: Sano}", "text: {en: Say}"))
    assert code == 1
    assert "question second: error: text has no 'fi' translation" in output


def test_duplicate_question_ids(tmp_path: Path) -> None:
    code, output = check(
        tmp_path, with_question("- {id: second, type: text, text: {en: x, fi: x}}")
    )
    assert code == 1
    assert "question second: error: the id is used by another question too" in output


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("{id: s, type: scale, min: 5, max: 1, text: {en: x, fi: x}}", "scale min 5 and max 1"),
        ("{id: s, type: scale, min: 0, max: 20, text: {en: x, fi: x}}", "at most 11 points"),
        (
            "{id: n, type: number, min: 10, max: 2, text: {en: x, fi: x}}",
            "min 10 is greater than max 2",
        ),
        ("{id: t, type: text, max_length: 0, text: {en: x, fi: x}}", "max_length"),
    ],
    ids=["scale-upside-down", "scale-too-wide", "number-upside-down", "text-zero-length"],
)
def test_bad_bounds(tmp_path: Path, question: str, expected: str) -> None:
    code, output = check(tmp_path, with_question(f"- {question}"))
    assert code == 1
    assert expected in output


def test_every_problem_is_reported_not_just_the_first(tmp_path: Path) -> None:
    body = GOOD.replace("text: {en: Say, fi: Sano}", "text: {en: Say}\n    next: missing")
    code, output = check(tmp_path, body)
    assert code == 1
    assert "no 'fi' translation" in output
    assert "next goes to 'missing'" in output


def test_unknown_setting_is_named(tmp_path: Path) -> None:
    code, output = check(tmp_path, GOOD.replace("title:", "colour: red\ntitle:"))
    assert code == 1
    assert "error: unknown setting 'colour'" in output


def test_not_utf8_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("id: k\u00e4\n".encode("latin-1"))
    result = CliRunner().invoke(main, ["surveys", "check", str(path)])
    assert result.exit_code == 1
    assert "not UTF-8 text" in result.output


def test_several_files_each_reported_and_any_error_fails(tmp_path: Path) -> None:
    (tmp_path / "good.yaml").write_text(GOOD, encoding="utf-8")
    (tmp_path / "bad.yaml").write_text("id: [", encoding="utf-8")
    result = CliRunner().invoke(
        main, ["surveys", "check", str(tmp_path / "good.yaml"), str(tmp_path / "bad.yaml")]
    )
    assert result.exit_code == 1
    assert "good.yaml: ok" in result.output
    assert "bad.yaml: error: not valid YAML" in result.output


def test_console_script_exits_non_zero_on_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("questions: 3\n", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "bot", "surveys", "check", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert "bad.yaml: error: missing 'id'" in done.stderr


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ("expires_after: 0", "expires_after: Value error, must be longer than nothing"),
        ("expires_after: -3", "expires_after: Value error, must be longer than nothing"),
        ("expires_after: soon", "expires_after: Input should be a valid timedelta"),
        ("keep_answers: 0", "keep_answers: Value error, must be longer than nothing"),
        ("keep_answers: -30", "keep_answers: Value error, must be longer than nothing"),
        ("staff_channel: the staff room", "staff_channel: String should match pattern"),
        ("open: true", "open: true needs a keyword"),
    ],
)
def test_lifecycle_settings_that_cannot_work_are_named(
    tmp_path: Path, setting: str, expected: str
) -> None:
    code, output = check(tmp_path, f"{setting}\n{GOOD}")
    assert code == 1
    assert expected in output


def test_expires_after_reads_a_bare_number_as_days(tmp_path: Path) -> None:
    survey = read_survey(f"expires_after: 3\n{GOOD}", source="s.yaml").survey
    assert survey.expires_after.days == 3


def test_replies_to_an_anonymous_survey_are_refused_for_want_of_a_way_back(
    tmp_path: Path,
) -> None:
    code, output = check(tmp_path, "anonymous: true\nmay_reply: true\n" + GOOD)
    assert code != 0
    assert "may_reply needs a survey that is not anonymous" in output


def test_expected_shares_must_name_a_single_choice_question_and_its_options(
    tmp_path: Path,
) -> None:
    code, output = check(tmp_path, "expected: {question: second, shares: {a: 50, b: 50}}\n" + GOOD)
    assert code != 0
    assert "expected.question 'second' is no single-choice question" in output
    code, output = check(tmp_path, "expected: {question: first, shares: {a: 50, c: 30}}\n" + GOOD)
    assert "expected.shares names 'c', which is no option of it" in output
    assert "expected.shares add up to 80 %, not 100" in output


PLAIN = """
id: plain
languages: [en, fi]
title: {en: Library, fi: Kirjasto}
plain:
  intro:
    en: >-
      We would like to hear from you about how the library and its many different services
      work for you and for the people you live with.
    fi: Haluamme tietää, mitä ajattelet kirjastosta.
questions:
  - id: service
    type: single_choice
    text: {en: Which service do you use most?, fi: Mitä palvelua käytät eniten?}
    plain: {en: What do you use?, fi: Mitä käytät?}
    options:
      - id: loans
        text: {en: Borrowing books, fi: Kirjojen lainaus}
        plain: {en: Interlibrary loan arrangements, fi: Lainaat}
      - id: study
        text: {en: A place to study, fi: Paikka opiskella}
"""


def test_a_long_sentence_in_a_plain_text_is_reported_with_its_length(tmp_path: Path) -> None:
    code, output = check(tmp_path, PLAIN)
    assert code == 0  # a warning: the author decides
    assert (
        "warning: plain intro (en): a sentence of 26 words ('We would like to hear from …'); "
        "plain language keeps to 15 or fewer"
    ) in output
    assert "plain intro (fi)" not in output


def test_rare_words_in_a_plain_option_are_named_by_question_and_option(tmp_path: Path) -> None:
    _, output = check(tmp_path, PLAIN)
    assert (
        "question service: warning: option loans plain (en): rare words, which many readers "
        "may not know: interlibrary"
    ) in output
    assert "option loans plain (fi)" not in output  # "Lainaat" is an everyday word


def test_plain_words_pass_the_report_without_a_warning(tmp_path: Path) -> None:
    plain_enough = PLAIN.replace("Interlibrary loan arrangements", "Books").replace(
        "hear from you about how the library and its many different services\n      work for "
        "you and for the people you live with",
        "know what you think of the library",
    )
    code, output = check(tmp_path, plain_enough)
    assert (code, "warning" in output) == (0, False), output


def test_the_usual_texts_are_not_held_to_the_plain_language_report(tmp_path: Path) -> None:
    usual = GOOD.replace("text: {en: Say, fi: Sano}", "text: {en: Elucidate, fi: Sano}")
    code, output = check(tmp_path, usual)
    assert (code, "warning" in output) == (0, False), output


def test_a_plain_text_in_a_language_the_survey_does_not_speak_is_an_error(
    tmp_path: Path,
) -> None:
    code, output = check(tmp_path, PLAIN.replace("fi: Lainaat", "sv: Lån"))
    assert code == 1
    assert "question service: error: option loans plain has 'sv' text, but 'sv' is not" in output
