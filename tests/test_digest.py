"""Digests from known answers: the exact figures a professional reads."""

from __future__ import annotations

import struct
from pathlib import Path

from figures_oracle import figures_from

from bot.charts import ALT_TEXT_LIMIT, chart_description, chart_png, charted
from bot.digest import Digest, asked_of, build
from bot.digest_text import render_details, render_headline
from bot.small_cells import protect
from conversations.checks import read_survey
from conversations.summary import Count, Summary
from storage.records import AnswerRow, ResponseRow

SURVEY_FILE = Path(__file__).resolve().parent.parent / "surveys" / "library-services.yaml"
SURVEY = read_survey(SURVEY_FILE.read_text(encoding="utf-8"), source="library").survey

# seven people: five completed (three of them after the last digest at t=100), one
# declined, one still answering
RESPONSES = [
    ResponseRow(1, "completed", 50.0),
    ResponseRow(2, "completed", 90.0),
    ResponseRow(3, "completed", 150.0),
    ResponseRow(4, "completed", 160.0),
    ResponseRow(5, "declined", None),
    ResponseRow(6, "completed", 170.0),
    ResponseRow(7, "answering", None),
]


def answer(response: int, question: str, value: object) -> AnswerRow:
    return AnswerRow(response, question, value)


ANSWERS = [
    answer(1, "visits", "weekly"),
    answer(2, "visits", "weekly"),
    answer(3, "visits", "monthly"),
    answer(4, "visits", "weekly"),
    answer(6, "visits", "rarely"),
    answer(7, "visits", "never"),  # not finished: not in the figures
    answer(1, "services", ["loans", "ebooks"]),
    answer(2, "services", ["loans"]),
    answer(3, "services", ["events", "loans"]),
    answer(4, "services", ["study"]),
    answer(1, "satisfaction", 5),
    answer(2, "satisfaction", 4),
    answer(3, "satisfaction", 2),
    answer(4, "satisfaction", 4),
    answer(1, "improve", "Longer opening hours on Sundays"),
    answer(2, "improve", "More Finnish audiobooks"),
    answer(3, "improve", "Opening hours are too short, and the e-book app crashes"),
    answer(4, "improve", None),
    answer(1, "age_group", "over_65"),
    answer(2, "age_group", None),
]


def render_text(digest: Digest) -> str:
    """The headline and the figures below its fold, as one text to read through."""
    return f"{render_headline(digest)}\n\n{render_details(digest)}"


def digest():
    return built(SURVEY, 7, RESPONSES, ANSWERS, since=100.0, until=200.0)


def built(survey, run_id, responses, answers, *, since, until):
    figures = figures_from(responses, answers, since=since, until=until, **asked_of(survey))
    return build(survey=survey, run_id=run_id, figures=figures, until=until)


def question(question_id: str):
    return next(q for q in digest().questions if q.question_id == question_id)


def test_totals_count_new_completed_and_completion_rate() -> None:
    result = digest()
    assert (result.responses, result.completed, result.new_completed) == (6, 5, 3)
    assert round(result.completion_rate) == 83
    assert result.partial == 1


def test_single_choice_counts_and_percentages() -> None:
    visits = question("visits")
    assert visits.answered == 5
    assert [(o.label, o.count, o.percent) for o in visits.counts] == [
        ("Every week", 3, 60.0),
        ("Every month", 1, 20.0),
        ("A few times a year", 1, 20.0),
        ("Not at all", 0, 0.0),
    ]


def test_multiple_choice_percentages_are_of_people_answering() -> None:
    services = question("services")
    assert [(o.count, o.percent) for o in services.counts] == [
        (3, 75.0),
        (1, 25.0),
        (1, 25.0),
        (0, 0.0),
        (1, 25.0),
    ]


def test_scale_mean_median_and_histogram() -> None:
    satisfaction = question("satisfaction")
    assert (satisfaction.mean, satisfaction.median) == (3.75, 4.0)
    assert [o.count for o in satisfaction.counts] == [0, 1, 0, 2, 1]


def test_free_text_themes_and_quotes_new_first() -> None:
    improve = question("improve")
    assert (improve.answered, improve.skipped) == (3, 1)
    assert improve.themes == (("opening hours", 2),)
    assert improve.quotes == (
        "Opening hours are too short, and the e-book app crashes",
        "Longer opening hours on Sundays",
        "More Finnish audiobooks",
    )


def test_rendered_text_reads_in_a_minute() -> None:
    text = render_text(digest())
    assert text.splitlines()[:3] == [
        "Digest: City library feedback (run 7), 1 Jan 00:01 to 1 Jan 00:03",
        "Responses: 6 (3 new), completed 5 (83%)",
        "1 unfinished are not in the figures.",
    ]
    assert "  Every week: 3 (60%)" in text
    assert "  chosen by nobody: Not at all" in text  # one line for every option nobody chose
    assert "  mean 3.8, median 4" in text
    assert "   4 ████████████████████ 2" in text
    assert "  themes: opening hours (2)" in text
    assert "Your age group (1 answered, 1 skipped)" in text


def test_a_run_with_no_answers_yet() -> None:
    empty = built(SURVEY, 1, [], [], since=None, until=1.0)
    assert empty.completion_rate == 0.0
    text = render_text(empty)
    assert "Responses: 0 (0 new), completed 0 (0%)" in text
    assert "No findings yet: too few answers to show." in text


def test_the_chart_shows_each_choice_and_scale_question_with_answers() -> None:
    shown = [q.question_id for q in charted(digest())]
    assert shown == ["visits", "services", "satisfaction", "age_group"]  # not free text
    png = chart_png(digest())
    assert png.startswith(b"\x89PNG")
    width, height = struct.unpack(">II", png[16:24])
    assert width == 880  # 8 inches at 110 dpi
    assert height > 4 * 100  # a panel per question


def test_the_charts_alt_text_tells_the_most_chosen_answers() -> None:
    assert chart_description(digest()) == (
        "Bar charts of run 7 of City library feedback, one per question."
        " How often do you visit the library? Most answered Every week: 3 (60%)."
        " Which services have you used this year? Most answered Borrowing books: 3 (75%)."
        " Overall, how satisfied are you with the library? Most answered 4: 2 (50%), mean 3.8."
        " Your age group: Most answered 65 or over: 1 (100%)."
        " Every count is in the digest message above."
    )


def test_a_long_surveys_alt_text_stays_within_slacks_limit() -> None:
    tied = (Count("Yes", 4, 50.0), Count("No", 4, 50.0))
    question = Summary("q", "Was the service easy to reach? " * 3, 8, 0, tied, charted=True)
    long = Digest(7, "Home care feedback", 8, 8, 8, questions=(question,) * 30)
    text = chart_description(long)
    assert len(text) <= ALT_TEXT_LIMIT
    assert "Most answered Yes and No: 4 (50%)." in text
    assert text.endswith("… Every count is in the digest message above.")


def test_no_chart_for_a_run_with_no_answers_yet() -> None:
    empty = built(SURVEY, 1, [], [], since=None, until=1.0)
    assert chart_png(empty) is None


def test_a_date_question_is_summed_up_by_earliest_latest_and_month() -> None:
    dated = read_survey(
        (Path(__file__).parent / "surveys" / "visit-date.yaml").read_text(encoding="utf-8"),
        source="visit-date",
    ).survey
    days = ["2026-11-28", "2026-10-03", "2026-11-02"]
    text = render_text(
        built(
            dated,
            2,
            [ResponseRow(n, "completed", 10.0) for n in range(1, 4)],
            [answer(n, "visited", day) for n, day in enumerate(days, start=1)],
            since=None,
            until=20.0,
        )
    )
    assert "  earliest 2026-10-03, latest 2026-11-28" in text
    assert "  2026-10 ██████████ 1" in text
    assert "  2026-11 ████████████████████ 2" in text


def protected(k: int = 5) -> Digest:
    return protect(digest(), k)


def test_a_count_below_k_reads_fewer_than_k_and_its_complement_is_hidden_too() -> None:
    visits = next(q for q in protected().questions if q.question_id == "visits")
    # 3, 1, 1, 0 of 5: the ones are hidden; 3 is hidden too, or 5 - 0 - ... would give them
    assert [(c.label, c.count, c.hidden) for c in visits.counts] == [
        ("Every week", 0, True),
        ("Every month", 0, True),
        ("A few times a year", 0, True),
        ("Not at all", 0, False),
    ]
    text = render_text(protected())
    assert "  Every month: fewer than 5" in text
    assert "(20%)" not in text


def test_a_question_fewer_than_k_answered_shows_no_figures() -> None:
    text = render_text(protected())
    assert "Your age group (1 answered, 1 skipped)\n  figures hidden until 5 have answered" in text
    assert "65 or over" not in text
    satisfaction = next(q for q in protected().questions if q.question_id == "satisfaction")
    assert (satisfaction.mean, satisfaction.median) == (None, None)  # 4 answered


def test_quotes_wait_for_k_completed_responses_and_rare_themes_are_left_out() -> None:
    improve = next(q for q in protected().questions if q.question_id == "improve")
    assert (improve.quotes, improve.themes) == ((), ())  # 4 completed; themes of 2
    assert next(q for q in protected(3).questions if q.question_id == "improve").quotes


def test_the_chart_and_its_alt_text_never_show_a_small_count() -> None:
    shown = [q.question_id for q in charted(protected())]
    assert shown == ["visits"]  # the others were answered by fewer than 5
    assert "1 (100%)" not in chart_description(protected())
    assert chart_png(protected()).startswith(b"\x89PNG")
