"""A digest's figures as a PNG bar chart, for platforms that take files.

matplotlib's object API (no pyplot state), so charts can be drawn in a worker
thread while the bot goes on.
"""

from __future__ import annotations

import io
import textwrap

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from bot.digest import Digest, QuestionSummary

CHARTED = ("single_choice", "multiple_choice", "scale")
WIDTH_INCHES = 8.0
INCHES_PER_BAR = 0.32
TITLE_INCHES = 0.9
DPI = 110
BAR_COLOUR = "#1f5fa8"  # dark blue: enough contrast on white for low vision


def charted(digest: Digest) -> list[QuestionSummary]:
    """The questions a chart shows: those with counted options and any answers."""
    return [q for q in digest.questions if q.kind in CHARTED and q.options and q.answered]


def chart_png(digest: Digest) -> bytes | None:
    """One horizontal bar chart per charted question, stacked; None if none has answers."""
    questions = charted(digest)
    if not questions:
        return None
    heights = [TITLE_INCHES + INCHES_PER_BAR * len(q.options) for q in questions]
    figure = Figure(figsize=(WIDTH_INCHES, sum(heights) + 0.6), dpi=DPI)
    FigureCanvasAgg(figure)
    figure.suptitle(f"{digest.survey_title} (run {digest.run_id})", fontsize=13)
    axes = figure.subplots(len(questions), 1, squeeze=False, height_ratios=heights)[:, 0]
    for ax, question in zip(axes, questions, strict=True):
        labels = [textwrap.shorten(o.label, 40, placeholder="…") for o in question.options]
        counts = [o.count for o in question.options]
        bars = ax.barh(labels, counts, color=BAR_COLOUR)
        ax.invert_yaxis()  # the first option on top, as in the survey
        ax.bar_label(
            bars, labels=[f"{o.count} ({o.percent:g}%)" for o in question.options], padding=3
        )
        ax.set_title(textwrap.fill(question.text, 80), fontsize=10, loc="left")
        ax.set_xlim(0, max(counts) * 1.3 or 1)
        ax.xaxis.set_visible(False)
        for side in ("top", "right", "bottom"):
            ax.spines[side].set_visible(False)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
