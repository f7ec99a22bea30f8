"""The staff page's invitation by file: a CSV of phone numbers becomes the command a
coordinator would type (`survey start SURVEY for +358…, +358… [dry-run]`).

Which cells are numbers is left to the SMS adapter, which reads them in its region
and names those it cannot; here only the cells that look like one are taken (digits
with spaces, dashes, dots, brackets or a leading +), so that a header row, names or
e-mail addresses beside the numbers do not count.
"""

from __future__ import annotations

import csv
import io
import re
from typing import Any

MAX_FILE_BYTES = 4 * 1024 * 1024  # some 200,000 numbers
_PHONE_LIKE = re.compile(r"^\+?[\d\s().\-/]{6,24}$")
_SURVEY = re.compile(r"^[\w-]{1,64}$")


class NotANumberFile(ValueError):
    """The upload cannot be read as numbers to invite; the message says why."""


def invitation_of(survey: str, data: bytes, *, dry_run: bool) -> str:
    """The command a file of numbers for `survey` stands for."""
    if not _SURVEY.match(survey):
        raise NotANumberFile("Name the survey by its id or keyword.")
    command = f"survey start {survey} for {', '.join(numbers_in(data))}"
    return command + (" dry-run" if dry_run else "")


def numbers_in(data: bytes) -> list[str]:
    """The phone-like cells of a CSV file (comma, semicolon or tab), in file order."""
    if len(data) > MAX_FILE_BYTES:
        raise NotANumberFile(f"The file is larger than {MAX_FILE_BYTES // 1024 // 1024} MiB.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise NotANumberFile("The file is not UTF-8 text: save it as CSV UTF-8.") from None
    try:
        dialect: Any = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel  # one column: nothing to tell the delimiter by
    found = [
        cell.strip()
        for row in csv.reader(io.StringIO(text), dialect)
        for cell in row
        if _PHONE_LIKE.match(cell.strip()) and sum(c.isdigit() for c in cell) >= 6
    ]
    if not found:
        raise NotANumberFile("There are no phone numbers in the file (one a row).")
    return found
