"""A digest's figures as a PNG bar chart, for platforms that take files.

matplotlib's object API (no pyplot state), so charts can be drawn in a worker
thread while the bot goes on.
"""

from __future__ import annotations

import io
import textwrap

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from bot.digest import Digest
from bot.digest_text import shown_count
from conversations.summary import Summary

WIDTH_INCHES = 8.0
INCHES_PER_BAR = 0.32
TITLE_INCHES = 0.9
DPI = 110
BAR_COLOUR = "#1f5fa8"  # dark blue: enough contrast on white for low vision
ALT_TEXT_LIMIT = 1000  # characters: Slack refuses longer alt text (alt_txt_too_large)


def charted(digest: Digest) -> list[Summary]:
    """The questions a chart shows: those whose counts are charted and may be shown."""
    return [
        q
        for q in digest.questions
        if q.charted and q.answered and any(not c.hidden for c in q.counts)
    ]


def chart_png(digest: Digest) -> bytes | None:
    """One horizontal bar chart per charted question, stacked; None if none has answers."""
    questions = charted(digest)
    if not questions:
        return None
    heights = [TITLE_INCHES + INCHES_PER_BAR * len(q.counts) for q in questions]
    figure = Figure(figsize=(WIDTH_INCHES, sum(heights) + 0.6), dpi=DPI)
    FigureCanvasAgg(figure)
    figure.suptitle(f"{digest.survey_title} (run {digest.run_id})", fontsize=13)
    axes = figure.subplots(len(questions), 1, squeeze=False, height_ratios=heights)[:, 0]
    for ax, question in zip(axes, questions, strict=True):
        labels = [textwrap.shorten(o.label, 40, placeholder="…") for o in question.counts]
        counts = [o.count for o in question.counts]
        bars = ax.barh(labels, counts, color=BAR_COLOUR)
        ax.invert_yaxis()  # the first option on top, as in the survey
        ax.bar_label(
            bars, labels=[shown_count(o, digest.min_group_size) for o in question.counts], padding=3
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


def chart_description(digest: Digest) -> str:
    """The chart in words, as its alt text: what it shows, the most chosen answer to each
    question, and where every figure is (the digest message it comes with)."""
    title = textwrap.shorten(digest.survey_title, 200, placeholder="…")
    opening = f"Bar charts of run {digest.run_id} of {title}, one per question."
    closing = "Every count is in the digest message above."
    findings = " ".join(_most_chosen(question) for question in charted(digest))
    room = ALT_TEXT_LIMIT - len(opening) - len(closing) - 2
    return f"{opening} {textwrap.shorten(findings, room, placeholder=' …')} {closing}"


def _most_chosen(question: Summary) -> str:
    top = max(question.counts, key=lambda option: option.count)
    leaders = " and ".join(o.label for o in question.counts if o.count == top.count)
    mean = f", mean {question.mean:.1f}" if question.mean is not None else ""
    text = question.text.rstrip()
    if text[-1] not in "?.!:":
        text += ":"  # "Your age group: Most answered …"
    return f"{text} Most answered {leaders}: {top.count} ({top.percent:g}%){mean}."
