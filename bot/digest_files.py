"""The files that go with a digest: its chart and its figures as CSV."""

from __future__ import annotations

from bot.chart_drawer import ChartDrawer
from bot.digest import Digest
from bot.digest_csv import figures_csv
from bot.events import Attachment
from conversations.survey import Survey


async def digest_files(
    survey: Survey, built: Digest, charts: ChartDrawer
) -> list[tuple[str, Attachment]]:
    """The chart and the CSV the survey's digests ask for, each with the line that
    introduces it. They are made again from the digest each time, so they are not
    stored, and they show what the digest shows, small cells hidden alike."""
    files = []
    name = f"{survey.id}-run-{built.run_id}"
    if survey.digest.chart and (drawn := await charts.draw(built)) is not None:
        png, description = drawn
        caption = f"Run {built.run_id} as a chart: the figures of the digest above."
        files.append((caption, Attachment(f"{name}.png", "image/png", png, description)))
    if survey.digest.csv:
        caption = f"Run {built.run_id}: the figures of the digest above, as a table."
        table = Attachment(f"{name}-figures.csv", "text/csv", figures_csv(built))
        files.append((caption, table))
    return files
