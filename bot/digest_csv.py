"""A digest's figures as CSV: what the digest says, as a table a spreadsheet can chart.

It is the digest after small-cell suppression (bot/small_cells.py), so a count the
digest hides reads "fewer than 5" here too, and it has no row per response: a
digest goes into a staff channel, where one person's row would say what the
digest hides. The answers row by row are `survey export`, for coordinators.
"""

from __future__ import annotations

import csv
import io

from bot.digest import Digest
from bot.digest_text import shown_count, theme_count
from bot.export import safe_cell

COLUMNS = ("question_id", "question", "answered", "skipped", "kind", "answer", "count", "percent")


def figures_csv(digest: Digest) -> bytes:
    """One row per option, point of a scale, month or theme of each question, in the
    digest's language, with a byte-order mark so that ä, ö and å read right."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    k, lang = digest.min_group_size, digest.language
    for summary in digest.questions:
        asked = [summary.question_id, safe_cell(summary.text), summary.answered, summary.skipped]
        for count in summary.counts:
            shown = shown_count(count, k, lang, percent=False)
            percent = "" if count.hidden else count.percent
            writer.writerow([*asked, "answer", safe_cell(count.label), shown, percent])
        for theme, mentions in summary.themes:  # people's own words: a formula stays text
            shown = theme_count(mentions, summary, lang)
            writer.writerow([*asked, "theme", safe_cell(theme), shown, ""])
    return out.getvalue().encode("utf-8-sig")
