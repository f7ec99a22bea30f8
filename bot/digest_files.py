"""The files that go with a digest or an export: the chart and the CSV of a run."""

from __future__ import annotations

import asyncio
from functools import partial

from bot.digest import Digest
from bot.events import Attachment
from bot.export import csv_of, shuffled
from conversations.survey import Survey
from storage.contract import Storage


async def digest_files(
    store: Storage, survey: Survey, built: Digest
) -> list[tuple[str, Attachment]]:
    """The chart and the CSV the survey's digests ask for, each with the line that
    introduces it. They are made again from the data each time, so they are not stored."""
    files = []
    if survey.digest.chart:
        from bot.charts import (  # matplotlib: 50 MiB, loaded once a chart is due
            chart_description,
            chart_png,
        )

        png = await asyncio.to_thread(chart_png, built)  # a CPU-bound second, off the loop
        if png is not None:
            caption = f"Run {built.run_id} as a chart: the figures of the digest above."
            name = f"{survey.id}-run-{built.run_id}.png"
            description = chart_description(built)
            files.append((caption, Attachment(name, "image/png", png, description)))
    if survey.digest.csv:
        files.append(await csv_file(store, survey, built.run_id))
    return files


async def csv_file(
    store: Storage, survey: Survey, run_id: int, *, raw: bool = False
) -> tuple[str, Attachment]:
    """The run's answers as CSV, with the line that introduces it, made off the loop."""
    name = f"{survey.id}-run-{run_id}{'-raw' if raw else ''}.csv"
    order = shuffled if survey.anonymous else None
    data, responses = await store.export(run_id, partial(csv_of, survey, raw=raw), shuffle=order)
    told = f"Run {run_id}: {responses} responses in {name}."
    if raw:
        told += " Unredacted: it holds whatever personal data people wrote; keep it safe."
    return told, Attachment(name, "text/csv", data)
