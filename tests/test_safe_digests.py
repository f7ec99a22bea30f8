"""A digest posted to a staff channel points at nobody: with the survey's default of 5,
one person's answers show no count, no percentage, no quote."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from conftest import STAFF_ROOM, Clock, command, coordinated

from adapters.memory import MemoryAdapter


@pytest.fixture
async def chat(tmp_path: Path, survey_folder: Path, clock: Clock) -> AsyncIterator[MemoryAdapter]:
    async with coordinated(tmp_path, survey_folder, clock) as runtime:
        yield runtime.adapters[0]


async def test_one_older_persons_answers_are_not_readable_from_the_digest(
    chat: MemoryAdapter,
) -> None:
    await command(chat, "survey start library for everyone")
    for text in ["library", "yes", "1", "1", "5", "My name is Ann Smith, 040 123 4567", "4"]:
        await chat.push("ann", text)
    await command(chat, "survey digest 1")
    digest = next(m for m in chat.to(STAFF_ROOM) if m.message.text.startswith("Digest:"))
    text = f"{digest.message.text}\n{digest.message.details}"
    assert "Responses: 1 (1 new), completed 1 (100%)" in text
    assert "Your age group (1 answered, 0 skipped)\n  figures hidden until 5 have answered" in text
    for revealing in ("65 or over", "1 of 1", "Ann", "040", "“"):
        assert revealing not in text
    files = [m.attachment for m in chat.to(STAFF_ROOM) if m.attachment is not None]
    assert [f.media_type for f in files] == ["text/csv"]  # no chart of one person's answers
    table = files[0].content().decode("utf-8-sig")
    ages = [row for row in csv.DictReader(io.StringIO(table)) if row["question_id"] == "age_group"]
    assert {row["count"] for row in ages} == {"fewer than 5"}  # zeros hidden too
    for revealing in ("Ann", "040", "Smith"):
        assert revealing not in table
