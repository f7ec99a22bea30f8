"""Small-cell suppression: no figure in a digest lets staff tell who answered what.

A count below k (the survey's `min_group_size`, 5 unless it says otherwise) is
shown as "fewer than k". Where the counts of a question add up to its answers
(one answer each: a single choice, a scale, months of a date), hiding one cell
alone would not hide it, since the total gives it away, so the next smallest
shown cell is hidden too. A question answered by fewer than k shows no figures
at all (no counts, mean, median, earliest or latest day), themes mentioned by
fewer than k are left out, and quotes appear only once k responses are complete.
The same holds for what the headline says: a change of a mean is told once k
answered before and since, the comments of fewer than k who gave the lowest score
are not quoted, and a group heard less than expected gets no share when fewer
than k of it answered.
Exports keep exact figures: they are for coordinators, and every export is
audited.
"""

from __future__ import annotations

from dataclasses import replace

from bot.digest import Digest
from conversations.summary import Count, Summary


def protect(digest: Digest, k: int) -> Digest:
    """The digest as it may be shown to staff."""
    questions = tuple(
        _protected(summary, k, quotes=digest.completed >= k) for summary in digest.questions
    )
    low = digest.low_with_comment
    return replace(
        digest,
        questions=questions,
        min_group_size=k,
        changes=tuple(c for c in digest.changes if min(c.answered_before, c.answered) >= k),
        low_with_comment=low if low.count >= k else replace(low, quotes=()),
        # a share of few people would give their number away: only "fewer than k" is said
        underheard=tuple(u if u.count >= k else replace(u, heard=None) for u in digest.underheard),
        # with fewer than k complete, a language nobody used yet is no news
        unheard_languages=digest.unheard_languages if digest.completed >= k else (),
    )


def _protected(summary: Summary, k: int, *, quotes: bool) -> Summary:
    if 0 < summary.answered < k:
        return replace(
            summary,
            counts=tuple(_hidden(c) for c in summary.counts),  # zeros would tell too
            facts=(),
            mean=None,
            median=None,
            themes=(),
            theme_quotes=(),
            theme_keys=(),
            quotes=(),
        )
    hide = {i for i, c in enumerate(summary.counts) if 0 < c.count < k}
    if len(hide) == 1 and sum(c.count for c in summary.counts) == summary.answered:
        shown = [(c.count, i) for i, c in enumerate(summary.counts) if c.count and i not in hide]
        if shown:
            hide.add(min(shown)[1])
    return replace(
        summary,
        counts=tuple(_hidden(c) if i in hide else c for i, c in enumerate(summary.counts)),
        themes=tuple(theme for theme in summary.themes if theme[1] >= k),
        theme_quotes=tuple(
            quote if quotes else ""
            for theme, quote in zip(summary.themes, summary.theme_quotes, strict=False)
            if theme[1] >= k
        ),
        theme_keys=tuple(
            key
            for theme, key in zip(summary.themes, summary.theme_keys, strict=False)
            if theme[1] >= k
        ),
        quotes=summary.quotes if quotes else (),
    )


def _hidden(count: Count) -> Count:
    return replace(count, count=0, percent=0.0, hidden=True)
