"""A digest as staff read it: a headline that fits on one screen, and the full
figures below the fold (a thread reply in Slack, a second event in Matrix, a
collapsed section on the staff page).

The headline says the period, the totals and what changed since the last digest,
then at most five findings ranked by how many people each concerns (a choice most
people made, a scale's average, a theme with a quote that says it), then what is
flagged for attention. Plain text: adapters neutralise it for their platform.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, tzinfo

from bot.digest import Digest
from bot.digest_words import decimal, languages, moment, word
from conversations.summary import Count, Summary

BAR_WIDTH = 20
MAX_FINDINGS = 5


@dataclass(frozen=True, slots=True)
class Finding:
    people: int  # how many it concerns: the ranking
    line: str
    key: str  # the same finding in every digest of the run: question, kind, what


def render_headline(digest: Digest, zone: tzinfo = UTC) -> str:
    lang = digest.language
    until = moment(digest.until, zone, lang)
    if digest.since is None:
        period = word(lang, "up_to", until=until)
    else:
        since = moment(digest.since, zone, lang)
        period = word(lang, "since", since=since, until=until)
    lines = [
        word(lang, "title", title=digest.survey_title, run=digest.run_id, period=period),
        word(
            lang,
            "totals",
            responses=digest.responses,
            new=digest.new_completed,
            completed=digest.completed,
            rate=f"{digest.completion_rate:.0f}",
        ),
    ]
    if digest.partial:
        lines.append(word(lang, "partial", n=digest.partial))
    if digest.assisted and digest.reached_by:  # representativeness: who was reached how
        modes = ", ".join(
            word(lang, f"reached_{mode}", n=_count(n, digest)) for mode, n in digest.reached_by
        )
        lines.append(word(lang, "assisted_by_mode", n=_count(digest.assisted, digest), modes=modes))
    elif digest.assisted:
        lines.append(word(lang, "assisted", n=_count(digest.assisted, digest)))
    if digest.changes:
        changes = "; ".join(
            f"{c.question} {decimal(c.before, lang)} → {decimal(c.now, lang)}"
            for c in digest.changes
        )
        lines.append(word(lang, "changes", changes=changes))
    found = findings(digest)
    lines.append("")
    if found:
        lines.append(word(lang, "findings"))
        lines.extend(f"• {_numbered(finding, digest)}" for finding in found)
    else:
        lines.append(word(lang, "no_findings"))
    flagged = _flagged(digest)
    if flagged:
        lines.append("")
        lines.append(word(lang, "flagged"))
        lines.extend(f"• {line}" for line in flagged)
    return "\n".join(lines)


def findings(digest: Digest) -> list[Finding]:
    """At most five findings from the protected figures, the most people first."""
    lang = digest.language
    found: list[Finding] = []
    for summary in digest.questions:
        found.extend(_findings_of(summary, lang, digest.references))
    found.sort(key=lambda finding: -finding.people)
    return found[:MAX_FINDINGS]


def _findings_of(summary: Summary, lang: str, references: dict[str, str]) -> list[Finding]:
    if not summary.answered:
        return []
    question = _short(summary.text)
    if summary.mean is not None and summary.bars and summary.counts:
        low, high = summary.counts[0].label, summary.counts[-1].label
        mean = decimal(summary.mean, lang)
        line = word(
            lang,
            "rated",
            question=question,
            mean=mean,
            low=low,
            high=high,
            answered=summary.answered,
        )
        return [Finding(summary.answered, line, f"{summary.question_id}:rated")]
    if summary.charted and not summary.bars:  # a choice: the option most people took
        shown = [c for c in summary.counts if c.count and not c.hidden]
        if not shown:
            return []
        top = max(shown, key=lambda c: c.count)
        line = word(
            lang,
            "chose",
            label=top.label,
            count=top.count,
            answered=summary.answered,
            percent=f"{top.percent:g}",
            question=question,
        )
        return [Finding(top.count, line, f"{summary.question_id}:chose:{top.key}")]
    found = []
    themes = zip(summary.themes, summary.theme_quotes, summary.theme_keys, strict=False)
    for (theme, n), quote, stems in themes:
        key = "theme" if quote else "theme_plain"
        said = theme_count(n, summary, lang)
        line = word(lang, key, theme=theme, n=said, quote=quote) + _reference(quote, references)
        found.append(Finding(n, line, f"{summary.question_id}:theme:{stems}"))
    return found


def _numbered(finding: Finding, digest: Digest) -> str:
    """A finding as listed: its number in the run, and what staff did about it."""
    number = digest.numbers.get(finding.key)
    line = f"[F{number}] {finding.line}" if number else finding.line
    if finding.key in digest.outcomes:
        status, note = digest.outcomes[finding.key]
        said = word(digest.language, status)
        line += f" ({said}: {note})" if note else f" ({said})"
    return line


def _reference(quote: str, references: dict[str, str]) -> str:
    """What follows a quote: its reference, to reply to its author by, if it has one."""
    return f" #{references[quote]}" if quote in references else ""


def theme_count(n: int, summary: Summary, lang: str) -> str:
    """How many answers mention a theme; an estimate when the answers were sampled."""
    return word(lang, "about", n=f"{n:,}") if summary.themes_estimated else str(n)


def _flagged(digest: Digest) -> list[str]:
    lang = digest.language
    lines = []
    if digest.held:
        lines.append(word(lang, "held", n=digest.held, run=digest.run_id))
    low = digest.low_with_comment
    if low.count:
        line = word(lang, "low", n=_count(low.count, digest))
        quoted = [f"“{q}”{_reference(q, digest.references)}" for q in low.quotes]
        lines.append(line + (": " + " / ".join(quoted) if quoted else ""))
    for group in digest.underheard:
        heard = (
            word(lang, "percent_of", heard=f"{group.heard:.0f}")
            if group.heard is not None
            else word(lang, "fewer_than", k=digest.min_group_size)
        )
        lines.append(
            word(lang, "heard_less", group=group.group, expected=f"{group.expected:g}", heard=heard)
        )
    if digest.unheard_languages:
        lines.append(word(lang, "unheard", languages=languages(digest.unheard_languages, lang)))
    return lines


def render_details(digest: Digest) -> str:
    """Every question's figures: what the findings were chosen from."""
    lang = digest.language
    lines = [word(lang, "details", run=digest.run_id)]
    for summary in digest.questions:
        lines.append("")
        lines.append(
            word(
                lang,
                "answered",
                question=summary.text,
                answered=summary.answered,
                skipped=summary.skipped,
            )
        )
        lines.extend(f"  {line}" for line in _figures(summary, digest))
    return "\n".join(lines)


def _figures(summary: Summary, digest: Digest) -> list[str]:
    lang, k = digest.language, digest.min_group_size
    lines = []
    if summary.mean is not None:
        lines.append(
            word(lang, "mean", mean=decimal(summary.mean, lang), median=f"{summary.median:g}")
        )
    if summary.facts:
        lines.append(", ".join(f"{word(lang, name)} {value}" for name, value in summary.facts))
    if not summary.answered:
        lines.append(word(lang, "no_answers"))
    elif summary.counts and all(c.hidden for c in summary.counts):
        lines.append(word(lang, "hidden_until", k=k))
    elif summary.bars:
        top = max((c.count for c in summary.counts), default=0)
        width = max(2, *(len(c.label) for c in summary.counts))
        for count in summary.counts:
            bar = "█" * round(BAR_WIDTH * count.count / top) if top else ""
            shown = shown_count(count, k, lang, percent=False)
            lines.append(f"{count.label:>{width}} {bar} {shown}")
    else:
        nobody = [c.label for c in summary.counts if not c.count and not c.hidden]
        for count in summary.counts:
            if count.count or count.hidden:
                lines.append(f"{count.label}: {shown_count(count, k, lang)}")
        if nobody:
            lines.append(word(lang, "nobody", options=", ".join(nobody)))
    if summary.themes:
        themes = ", ".join(
            f"{theme} ({theme_count(n, summary, lang)})" for theme, n in summary.themes
        )
        lines.append(word(lang, "themes", themes=themes))
    lines.extend(f"“{quote}”{_reference(quote, digest.references)}" for quote in summary.quotes)
    return lines


def shown_count(count: Count, k: int, lang: str = "en", *, percent: bool = True) -> str:
    """A count as staff may see it (with its percentage, unless not wanted), or "fewer
    than k"."""
    if count.hidden:
        return word(lang, "fewer_than", k=k)
    return f"{count.count} ({count.percent:g}%)" if percent else str(count.count)


def _count(n: int, digest: Digest) -> str:
    k = digest.min_group_size
    return word(digest.language, "fewer_than", k=k) if n < k else str(n)


def _short(text: str, limit: int = 60) -> str:
    """A question as a finding names it: its first line, cut to a few words."""
    first = text.strip().splitlines()[0] if text.strip() else text
    return first if len(first) <= limit else first[: limit - 1].rstrip() + "…"
